//! ledger: decoding and signature-checking Theta-wire transactions, against the bare
//! secp256k1 recovery every check is built on (measured in the same run); and blocks of
//! signed transfers executed and committed on a state of 10^5 accounts
//! (`LEDGER_BENCH_ACCOUNTS=1000000` for 10^6), on one thread and on all of rayon's
//! threads (feature `parallel`), against a naive executor in the same run.
//!
//! `execute_block/*`: one block of `BLOCK` one-input Sends from distinct accounts:
//! signature recovery, the rules, the trie update and commit (changeset applied through
//! the retention policy), per transfer. `naive_btreemap` is the baseline: the same
//! signature checks and balance rules over a `BTreeMap`, with no Merkle state at all.
//!
//! `decode_verify` is the per-transaction cost a node pays before execution: canonical
//! decode (which re-encodes), sign bytes, keccak, recovery, address compare. The gap to
//! `secp256k1_recover` is the codec's overhead. `paired_ratios` also interleaves the two
//! in short alternating blocks and prints the median ratio, which load drift on a shared
//! machine cancels out of.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::hint::black_box;

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ledger::{
    Coins, Genesis, GenesisAccount, Ledger, LedgerConfig, MAX_TX_SIZE, PruningPolicy, SendTx, SignerRole,
    Transaction, TxInput, TxOutput,
};
use meshcast_benches::paired;
use mpt_refcount::MemoryStore;
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

/// Transfers per benchmarked block.
const BLOCK: usize = 1_000;

fn bench_accounts() -> usize {
    std::env::var("LEDGER_BENCH_ACCOUNTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

/// Account `i` of the benchmark state: the first `BLOCK` have keys (the senders).
fn account_address(i: usize, senders: &[SecretKey]) -> Address {
    senders.get(i).map_or_else(|| Address::from_low_u64_be(0x1000_0000 + i as u64), |k| k.address())
}

/// A ledger of `n` accounts and one block of `BLOCK` signed Sends from distinct senders
/// to pseudo-random accounts.
fn execution_setup(n: usize) -> (Ledger<MemoryStore>, Vec<Transaction>) {
    let senders: Vec<SecretKey> =
        (0..BLOCK).map(|i| SecretKey::from_bytes(keccak256((i as u64).to_be_bytes()).0).unwrap()).collect();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        accounts: (0..n)
            .map(|i| GenesisAccount {
                address: primitives::codec::to_hex(account_address(i, &senders).as_bytes()),
                theta: "1000000000000000000000".into(),
                tfuel: "1000000000000000000000".into(),
                sequence: 0,
            })
            .collect(),
        validators: vec![],
        guardians: vec![],
    };
    let config = LedgerConfig::theta(CHAIN);
    let ledger =
        Ledger::from_genesis(MemoryStore::new(), config.clone(), &genesis, PruningPolicy { keep_last: 4 })
            .unwrap();
    let fee = Coins::new(U256::zero(), config.min_fee);
    let txs = senders
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = account_address((i * 7_919 + 13) % n, &senders);
            let amount = Coins::new(U256::from(1_000u64), U256::from(5u64));
            let mut tx = Transaction::Send(SendTx {
                fee,
                inputs: vec![TxInput::new(k.address(), amount.checked_add(&fee).unwrap(), 1)],
                outputs: vec![TxOutput::new(to, amount)],
            });
            tx.sign(CHAIN, SignerRole::Input(0), k).unwrap();
            tx
        })
        .collect();
    (ledger, txs)
}

/// The baseline: signature checks and balance rules over a plain map, no Merkle state.
fn naive_execute(accounts: &mut BTreeMap<Address, (u64, Coins)>, txs: &[Transaction]) {
    for tx in txs {
        tx.verify_all(CHAIN).unwrap();
        let Transaction::Send(s) = tx else { unreachable!() };
        for i in &s.inputs {
            let a = accounts.get_mut(&i.address).unwrap();
            assert_eq!(a.0 + 1, i.sequence);
            a.0 += 1;
            a.1 = a.1.checked_sub(&i.coins).unwrap();
        }
        for o in &s.outputs {
            let a = accounts.entry(o.address).or_default();
            a.1 = a.1.checked_add(&o.coins).unwrap();
        }
    }
}

fn execute_blocks(c: &mut Criterion) {
    let n = bench_accounts();
    let (ledger, txs) = execution_setup(n);
    let mut group = c.benchmark_group(format!("ledger_execute_block_{n}_accounts"));
    group.throughput(Throughput::Elements(BLOCK as u64));
    group.sample_size(10);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let all = rayon::ThreadPoolBuilder::new().build().unwrap();
    let threads = all.current_num_threads();
    for (name, pool) in [("single_core".to_string(), &one), (format!("parallel_{threads}_threads"), &all)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || ledger.clone(),
                |mut l| {
                    pool.install(|| l.execute_block(1, black_box(&txs)).unwrap());
                    l
                },
                BatchSize::PerIteration,
            )
        });
    }
    let map: BTreeMap<Address, (u64, Coins)> = (0..n)
        .map(|i| (Address::from_low_u64_be(i as u64), (0, Coins::zero())))
        .chain(txs.iter().map(|t| match t {
            Transaction::Send(s) => (s.inputs[0].address, (0, s.inputs[0].coins)),
            _ => unreachable!(),
        }))
        .collect();
    group.bench_function("naive_btreemap (baseline)", |b| {
        b.iter_batched(
            || map.clone(),
            |mut m| {
                naive_execute(&mut m, black_box(&txs));
                m
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, decode_and_verify, paired_ratios, execute_blocks);
criterion_main!(benches);
