//! Ethereum transfers executed (issue 16's `eth_sendRawTransaction` path) with
//! transactions signed by eth-account 0.14 (`tests/fixtures/eth_transactions.json`, chain id
//! 366 = privatenet): value moves in TFUEL, the nonce is the sequence minus one, the
//! ledger's fee must fit in what the sender offered; replays, other chains, unprotected
//! legacy transactions, call data and too small a fee are refused without change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::eth::EthTransaction;
use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::{Address, U256};
use serde_json::Value;

fn vectors() -> Vec<EthTransaction> {
    let vs: Vec<Value> = serde_json::from_str(include_str!("fixtures/eth_transactions.json")).unwrap();
    vs.iter()
        .map(|v| {
            EthTransaction::decode(&hex::decode(v["raw"].as_str().unwrap().trim_start_matches("0x")).unwrap())
                .unwrap()
        })
        .collect()
}

/// The vectors' three dev accounts with 2 TFUEL each.
fn chain(config: LedgerConfig) -> Ledger<MemoryStore> {
    let senders: std::collections::BTreeSet<Address> = vectors().iter().map(|t| t.from).collect();
    let accounts: Vec<String> = senders
        .iter()
        .map(|a| format!(r#"{{"address":"{a:?}","theta":"0","tfuel":"2000000000000000000"}}"#))
        .collect();
    let json = format!(r#"{{"chain_id":"{CHAIN}","accounts":[{}]}}"#, accounts.join(","));
    let g = Genesis::from_json(&json).unwrap();
    Ledger::from_genesis(MemoryStore::new(), config, &g, PruningPolicy { keep_last: 4 }).unwrap()
}

fn tfuel_of(l: &Ledger<MemoryStore>, a: &Address) -> U256 {
    l.account(a).unwrap().coins.tfuel_wei
}

#[test]
fn an_eip155_transfer_moves_tfuel_and_burns_the_ledgers_fee() {
    let v = vectors();
    let mut l = chain(config());
    assert_eq!(config().eth_chain_id, 366);
    let tx = &v[0]; // nonce 0, 1 TFUEL to 0xabab…, offers 21000 · 4e12 wei
    let to = tx.to.unwrap();
    l.begin_block(1).unwrap();
    let r = l.apply_eth(tx).unwrap().clone();
    let out = l.commit_block().unwrap();
    assert_eq!(r.tx_type, TxType::Send);
    assert_eq!(r.fee, tfuel(100)); // a two-account Send's fee in the test config
    assert_eq!(out.fees_burned, tfuel(100));
    assert_eq!(tfuel_of(&l, &to), U256::exp10(18));
    assert_eq!(
        tfuel_of(&l, &tx.from),
        U256::from(2u64) * U256::exp10(18) - U256::exp10(18) - U256::from(100u64)
    );
    assert_eq!(l.account(&tx.from).unwrap().sequence, 1, "nonce 0 is sequence 1");
    // The same bytes again: a replay, refused by sequence.
    assert!(matches!(l.check_eth(tx), Err(ExecError::BadSequence { expected: 2, got: 1, .. })));
}

#[test]
fn an_eip1559_transfer_needs_its_nonce_in_order() {
    let v = vectors();
    let l = chain(config());
    // Nonce 7 from a fresh account: sequence 8 where 1 is next.
    assert!(matches!(l.check_eth(&v[1]), Err(ExecError::BadSequence { expected: 1, got: 8, .. })));
}

#[test]
fn bad_ethereum_transactions_are_refused_and_change_nothing() {
    let v = vectors();
    let mut l = chain(config());
    let root = l.root();
    // Pre-EIP-155 legacy: no chain id, replayable anywhere.
    assert_eq!(l.check_eth(&v[6]), Err(ExecError::EthWrongChain { expected: 366, found: None }));
    // Call data (an ERC-20 transfer): contracts come with the EVM work.
    assert_eq!(l.check_eth(&v[7]), Err(ExecError::EthUnsupported { reason: "call data" }));
    // Signed for chain 1.
    assert_eq!(l.check_eth(&v[8]), Err(ExecError::EthWrongChain { expected: 366, found: Some(1) }));
    // Theta's real fee (0.3 TFUEL for a Send) is more than 21000 · 4e12 = 0.084 TFUEL.
    let theta = chain(LedgerConfig::theta(CHAIN));
    assert!(matches!(theta.check_eth(&v[0]), Err(ExecError::EthFeeTooLow { .. })));
    // Another chain's config refuses the privatenet signatures.
    let mut mainnet = config();
    mainnet.eth_chain_id = 361;
    assert!(matches!(chain(mainnet).check_eth(&v[0]), Err(ExecError::EthWrongChain { expected: 361, .. })));
    l.begin_block(1).unwrap();
    assert!(l.apply_eth(&v[6]).is_err());
    l.commit_block().unwrap();
    assert_eq!(l.account(&v[6].from).unwrap().sequence, 0);
    assert_ne!(l.root(), root); // only the height moved
    assert_eq!(tfuel_of(&l, &v[6].from), U256::from(2u64) * U256::exp10(18));
}
