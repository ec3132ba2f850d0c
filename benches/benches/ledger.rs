//! ledger: decoding and signature-checking Theta-wire transactions, against the bare
//! secp256k1 recovery every check is built on (measured in the same run).
//!
//! `decode_verify` is the per-transaction cost a node pays before execution: canonical
//! decode (which re-encodes), sign bytes, keccak, recovery, address compare. The gap to
//! `secp256k1_recover` is the codec's overhead. `paired_ratios` also interleaves the two
//! in short alternating blocks and prints the median ratio, which load drift on a shared
//! machine cancels out of.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{Coins, MAX_TX_SIZE, SendTx, SignerRole, Transaction, TxInput, TxOutput};
use meshcast_benches::paired;
use primitives::{Address, SecretKey, U256, keccak256};

const CHAIN: &str = "privatenet";

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes([b; 32]).unwrap()
}

/// `n` signed one-input Sends with distinct keys and sequences, as wire bytes.
fn sends(n: usize) -> Vec<Vec<u8>> {
    let fee = Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64));
    (0..n)
        .map(|i| {
            let k = key(1 + (i % 250) as u8);
            let amount = Coins::new(U256::from(1_000 + i as u64), U256::from(5u64));
            let mut tx = Transaction::Send(SendTx {
                fee,
                inputs: vec![TxInput::new(k.address(), amount.checked_add(&fee).unwrap(), 1 + i as u64)],
                outputs: vec![TxOutput::new(Address::repeat_byte(0xab), amount)],
            });
            tx.sign(CHAIN, SignerRole::Input(0), &k).unwrap();
            tx.encode()
        })
        .collect()
}

fn decode_and_verify(c: &mut Criterion) {
    let txs = sends(256);
    let digest = keccak256(b"meshcast ledger bench");
    let sig = key(7).sign_prehash(&digest);

    let mut group = c.benchmark_group("ledger_send");
    group.throughput(Throughput::Elements(1));
    group.bench_function("secp256k1_recover (baseline)", |b| {
        b.iter(|| sig.recover(black_box(&digest)).unwrap())
    });
    let mut i = 0;
    group.bench_function("decode", |b| {
        b.iter(|| {
            i = (i + 1) % txs.len();
            Transaction::decode(black_box(&txs[i]), MAX_TX_SIZE).unwrap()
        })
    });
    let decoded: Vec<Transaction> =
        txs.iter().map(|t| Transaction::decode(t, MAX_TX_SIZE).unwrap()).collect();
    group.bench_function("sign_bytes", |b| {
        b.iter(|| {
            i = (i + 1) % decoded.len();
            black_box(&decoded[i]).sign_bytes(CHAIN, SignerRole::Input(0)).unwrap()
        })
    });
    group.bench_function("decode_verify", |b| {
        b.iter(|| {
            i = (i + 1) % txs.len();
            let tx = Transaction::decode(black_box(&txs[i]), MAX_TX_SIZE).unwrap();
            tx.verify_all(CHAIN).unwrap();
        })
    });
    group.finish();
}

fn paired_ratios(_: &mut Criterion) {
    let txs = sends(256);
    let digest = keccak256(b"meshcast ledger bench");
    let sig = key(7).sign_prehash(&digest);
    let n = txs.len();
    let ratio = paired(
        15,
        n,
        |_| {
            black_box(sig.recover(black_box(&digest)).unwrap());
        },
        |i| {
            let tx = Transaction::decode(black_box(&txs[i]), MAX_TX_SIZE).unwrap();
            tx.verify_all(CHAIN).unwrap();
        },
    );
    println!("ledger paired: decode_verify runs at {ratio:.3}x the rate of a bare secp256k1 recover");
}

criterion_group!(benches, decode_and_verify, paired_ratios);
criterion_main!(benches);
