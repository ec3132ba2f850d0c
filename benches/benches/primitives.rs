//! secp256k1 backends side by side: libsecp256k1 (through `primitives`, which uses the
//! `secp256k1` crate) against the pure-Rust `k256`. The decision recorded in
//! `crates/primitives/src/signature.rs` rests on these figures.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use k256::ecdsa::{RecoveryId, Signature as KSig, SigningKey, VerifyingKey};
use primitives::{SecretKey, keccak256};

fn sign_and_recover(c: &mut Criterion) {
    let digest = keccak256(b"meshcast bench digest");
    let secret = [0x42u8; 32];

    let ours = SecretKey::from_bytes(secret).unwrap();
    let sig = ours.sign_prehash(&digest);
    let k_key = SigningKey::from_slice(&secret).unwrap();
    let (k_sig, k_id): (KSig, RecoveryId) = k_key.sign_prehash_recoverable(digest.as_bytes());

    let mut group = c.benchmark_group("secp256k1_sign");
    group.bench_function("libsecp256k1", |b| b.iter(|| ours.sign_prehash(black_box(&digest))));
    group.bench_function("k256", |b| b.iter(|| k_key.sign_prehash_recoverable(black_box(digest.as_bytes()))));
    group.finish();

    let mut group = c.benchmark_group("secp256k1_recover");
    group.bench_function("libsecp256k1", |b| b.iter(|| sig.recover(black_box(&digest)).unwrap()));
    group.bench_function("k256", |b| {
        b.iter(|| VerifyingKey::recover_from_prehash(black_box(digest.as_bytes()), &k_sig, k_id).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("keccak256_1KiB");
    let data = vec![7u8; 1024];
    group.bench_function("sha3", |b| b.iter(|| keccak256(black_box(&data))));
    group.finish();
}

criterion_group!(benches, sign_and_recover);
criterion_main!(benches);
