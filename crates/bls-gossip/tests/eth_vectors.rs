//! The Ethereum consensus BLS test vectors (`ethereum/bls12-381-tests`: sign, verify,
//! aggregate, fast_aggregate_verify, valid and invalid cases). Ethereum uses min-pk with
//! the POP ciphersuite, exactly our [`bls_gossip::bls`], so the vectors apply unchanged.
//! The fixture holds the generator's keys, messages and expected outputs; the invalid
//! cases are built here by the generator's own rules (case names as in the suite).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use bls_gossip::Error;
use bls_gossip::bls::{PublicKey, SecretKey, Signature, aggregate_signatures, fast_aggregate_verify};

const FIXTURE: &str = include_str!("fixtures/eth_bls_vectors.txt");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

struct Vectors {
    values: BTreeMap<String, Vec<u8>>,
}

impl Vectors {
    fn load() -> Self {
        let mut values = BTreeMap::new();
        for line in FIXTURE.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (key, hex) = parts.split_at(parts.len() - 1);
            values.insert(key.join(" "), unhex(hex[0]));
        }
        Vectors { values }
    }
    fn get(&self, key: &str) -> &[u8] {
        self.values.get(key).unwrap_or_else(|| panic!("fixture lacks {key}"))
    }
    fn sk(&self, i: usize) -> SecretKey {
        SecretKey::from_bytes(self.get(&format!("privkey {i}"))).unwrap()
    }
    fn pk_bytes(&self, i: usize) -> &[u8] {
        self.get(&format!("pubkey {i}"))
    }
    fn msg(&self, j: usize) -> &[u8] {
        self.get(&format!("message {j}"))
    }
    fn sig_bytes(&self, i: usize, j: usize) -> &[u8] {
        self.get(&format!("sign {i} {j}"))
    }
}

fn tampered(sig: &[u8]) -> Vec<u8> {
    let mut t = sig.to_vec();
    let n = t.len();
    t[n - 4..].copy_from_slice(&[0xff; 4]);
    t
}

const G1_INFINITY: [u8; 48] = {
    let mut b = [0u8; 48];
    b[0] = 0xc0;
    b
};
const G2_INFINITY: [u8; 96] = {
    let mut b = [0u8; 96];
    b[0] = 0xc0;
    b
};

/// IETF/Ethereum `Verify` over raw bytes: any decoding failure is `false`.
fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match (PublicKey::from_bytes(pk), Signature::from_bytes(sig)) {
        (Ok(pk), Ok(sig)) => pk.verify(msg, &sig),
        _ => false,
    }
}

/// `FastAggregateVerify` over raw bytes: any decoding failure (incl. an infinity key) is `false`.
fn fast_verify(pks: &[&[u8]], msg: &[u8], sig: &[u8]) -> bool {
    let pks: Result<Vec<PublicKey>, Error> = pks.iter().map(|p| PublicKey::from_bytes(p)).collect();
    match (pks, Signature::from_bytes(sig)) {
        (Ok(pks), Ok(sig)) => fast_aggregate_verify(&pks, msg, &sig),
        _ => false,
    }
}

#[test]
fn sign_cases_and_sk_to_pk() {
    let v = Vectors::load();
    for i in 0..3 {
        let sk = v.sk(i);
        assert_eq!(sk.public_key().to_bytes().as_slice(), v.pk_bytes(i), "SkToPk {i}");
        for j in 0..3 {
            assert_eq!(sk.sign(v.msg(j)).to_bytes().as_slice(), v.sig_bytes(i, j), "sign_case_{i}_{j}");
        }
    }
    // sign_case_zero_privkey: no signature.
    assert_eq!(SecretKey::from_bytes(&[0u8; 32]).unwrap_err(), Error::ZeroSecret);
}

#[test]
fn verify_cases() {
    let v = Vectors::load();
    for i in 0..3 {
        for j in 0..3 {
            let sig = v.sig_bytes(i, j);
            assert!(verify(v.pk_bytes(i), v.msg(j), sig), "verify_valid_case_{i}_{j}");
            assert!(!verify(v.pk_bytes((i + 1) % 3), v.msg(j), sig), "verify_wrong_pubkey_case_{i}_{j}");
            assert!(
                !verify(v.pk_bytes(i), v.msg(j), &tampered(sig)),
                "verify_tampered_signature_case_{i}_{j}"
            );
        }
    }
    assert!(
        !verify(&G1_INFINITY, &[0x12; 32], &G2_INFINITY),
        "verify_infinity_pubkey_and_infinity_signature"
    );
}

#[test]
fn aggregate_cases() {
    let v = Vectors::load();
    for j in 0..3 {
        let sigs: Vec<Signature> =
            (0..3).map(|i| Signature::from_bytes(v.sig_bytes(i, j)).unwrap()).collect();
        let agg = aggregate_signatures(&sigs).unwrap();
        assert_eq!(agg.to_bytes().as_slice(), v.get(&format!("aggregate {j}")), "aggregate_{j}");
    }
    // aggregate_na_signatures: no output.
    assert_eq!(aggregate_signatures(&[]).unwrap_err(), Error::EmptyAggregate);
    // aggregate_infinity_signature: the identity aggregates to itself.
    let inf = Signature::from_bytes(&G2_INFINITY).unwrap();
    assert!(inf.is_identity());
    assert_eq!(aggregate_signatures(&[inf]).unwrap().to_bytes(), G2_INFINITY);
}

#[test]
fn fast_aggregate_verify_cases() {
    let v = Vectors::load();
    let pks: Vec<&[u8]> = (0..3).map(|i| v.pk_bytes(i)).collect();
    // Aggregates of the first i+1 keys over message i (fixture values, not ours).
    let aggs: [&[u8]; 3] = [v.sig_bytes(0, 0), v.get("aggregate2 1"), v.get("aggregate 2")];
    for i in 0..3 {
        let keys = &pks[..=i];
        assert!(fast_verify(keys, v.msg(i), aggs[i]), "fast_aggregate_verify_valid_{i}");
        let mut extra = keys.to_vec();
        extra.push(pks[2]);
        assert!(!fast_verify(&extra, v.msg(i), aggs[i]), "fast_aggregate_verify_extra_pubkey_{i}");
        assert!(
            !fast_verify(keys, v.msg(i), &tampered(aggs[i])),
            "fast_aggregate_verify_tampered_signature_{i}"
        );
    }
    assert!(
        !fast_verify(&[], v.msg(2), &G2_INFINITY),
        "fast_aggregate_verify_na_pubkeys_and_infinity_signature"
    );
    assert!(!fast_verify(&[], v.msg(2), &[0u8; 96]), "fast_aggregate_verify_na_pubkeys_and_zero_signature");
    let sample = v.get("sample_aggregate");
    assert!(fast_verify(&pks, &[0x12; 32], sample), "the sample aggregate itself verifies");
    let mut with_inf = pks.clone();
    with_inf.push(&G1_INFINITY);
    assert!(!fast_verify(&with_inf, &[0x12; 32], sample), "fast_aggregate_verify_infinity_pubkey");
}
