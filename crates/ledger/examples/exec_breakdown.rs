//! Where a block's time goes: signature checks, the rules, and the commit (trie update,
//! hashing, changeset apply), for one block of signed one-input Sends on a state of
//! `ACCOUNTS` accounts (default 100 000; first argument). Run with
//! `cargo run --release -p ledger --example exec_breakdown [--features parallel] -- 100000`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::{Address, SecretKey, U256, keccak256};

const CHAIN: &str = "privatenet";
const BLOCK: usize = 1_000;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let senders: Vec<SecretKey> =
        (0..BLOCK).map(|i| SecretKey::from_bytes(keccak256((i as u64).to_be_bytes()).0).unwrap()).collect();
    let addr = |i: usize| {
        senders.get(i).map_or_else(|| Address::from_low_u64_be(0x1000_0000 + i as u64), |k| k.address())
    };
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        accounts: (0..n)
            .map(|i| GenesisAccount {
                address: primitives::codec::to_hex(addr(i).as_bytes()),
                theta: "1000000000000000000000".into(),
                tfuel: "1000000000000000000000".into(),
                sequence: 0,
            })
            .collect(),
        validators: vec![],
        guardians: vec![],
    };
    let config = LedgerConfig::theta(CHAIN);
    let t = Instant::now();
    let mut ledger =
        Ledger::from_genesis(MemoryStore::new(), config.clone(), &genesis, PruningPolicy { keep_last: 4 })
            .unwrap();
    println!("genesis of {n} accounts: {:.2?}", t.elapsed());
    let fee = Coins::new(U256::zero(), config.min_fee);
    for round in 1..=3u64 {
        let txs: Vec<Transaction> = senders
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let amount = Coins::new(U256::from(1_000u64), U256::from(5u64));
                let mut tx = Transaction::Send(SendTx {
                    fee,
                    inputs: vec![TxInput::new(k.address(), amount.checked_add(&fee).unwrap(), round)],
                    outputs: vec![TxOutput::new(addr((i * 7_919 + 13 + round as usize) % n), amount)],
                });
                tx.sign(CHAIN, SignerRole::Input(0), k).unwrap();
                tx
            })
            .collect();
        let t = Instant::now();
        let checks = verify_batch(&config, &txs);
        let verify = t.elapsed();
        assert!(checks.iter().all(|c| c.is_ok()));
        let t = Instant::now();
        ledger.begin_block(round).unwrap();
        for tx in &txs {
            // apply_tx checks signatures again: subtract `verify` for the rules alone.
            ledger.apply_tx(tx).unwrap();
        }
        let apply = t.elapsed();
        let t = Instant::now();
        ledger.commit_block().unwrap();
        let commit = t.elapsed();
        println!(
            "block {round}: verify {verify:.2?}, rules (+verify) {apply:.2?}, commit {commit:.2?}; {:.0} transfers/s end to end",
            BLOCK as f64 / (apply + commit).as_secs_f64()
        );
    }
}
