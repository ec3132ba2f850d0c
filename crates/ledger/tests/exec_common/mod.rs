//! Shared fixtures of the execution tests: keys, a small configuration, genesis, signed
//! transactions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::{Address, SecretKey, U256};

pub const CHAIN: &str = "privatenet";

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes([n; 32]).unwrap()
}

pub fn addr(n: u8) -> Address {
    key(n).address()
}

pub fn coins(theta: u64, tfuel: u64) -> Coins {
    Coins::new(U256::from(theta), U256::from(tfuel))
}

pub fn tfuel(n: u64) -> Coins {
    coins(0, n)
}

/// Small numbers: minimum fee 100 TFUEL wei, validator stake 1000, guardian stake 100,
/// lock period 5 blocks, 3 validators.
pub fn config() -> LedgerConfig {
    let mut c = LedgerConfig::theta(CHAIN);
    c.min_fee = U256::from(100u64);
    c.min_validator_stake = U256::from(1_000u64);
    c.min_guardian_stake = U256::from(100u64);
    c.return_locking_period = 5;
    c.max_validators = 3;
    c.pool.min_fee = U256::from(100u64);
    c
}

pub fn bls_key(n: u8) -> bls_gossip::bls::SecretKey {
    bls_gossip::bls::SecretKey::key_gen(&[n.wrapping_add(100); 32]).unwrap()
}

pub fn bls_pk(n: u8) -> [u8; 48] {
    bls_key(n).public_key().to_bytes()
}

pub fn bls_pop(n: u8) -> [u8; 96] {
    bls_key(n).prove_possession().to_bytes()
}

fn hex(b: &[u8]) -> String {
    primitives::codec::to_hex(b)
}

/// Genesis JSON: accounts 1..=`accounts` with `theta`/`tfuel` each; validator holders
/// `validators` (staked by holder n itself, 1000 each, BLS key n); guardians likewise
/// with 100 each.
pub fn genesis_json(accounts: u8, theta: u64, tfuel: u64, validators: &[u8], guardians: &[u8]) -> String {
    let accs: Vec<String> = (1..=accounts)
        .map(|n| {
            format!(r#"{{"address":"{}","theta":"{theta}","tfuel":"{tfuel}"}}"#, hex(addr(n).as_bytes()))
        })
        .collect();
    let stake = |n: u8, amount: u64| {
        format!(
            r#"{{"holder":"{}","source":"{}","stake":"{amount}","bls_pubkey":"{}","bls_pop":"{}"}}"#,
            hex(addr(n).as_bytes()),
            hex(addr(n).as_bytes()),
            hex(&bls_pk(n)),
            hex(&bls_pop(n))
        )
    };
    let vals: Vec<String> = validators.iter().map(|n| stake(*n, 1_000)).collect();
    let gs: Vec<String> = guardians.iter().map(|n| stake(*n, 100)).collect();
    format!(
        r#"{{"chain_id":"{CHAIN}","accounts":[{}],"validators":[{}],"guardians":[{}]}}"#,
        accs.join(","),
        vals.join(","),
        gs.join(",")
    )
}

pub fn ledger_with(accounts: u8, theta: u64, tfuel: u64) -> Ledger<MemoryStore> {
    let g = Genesis::from_json(&genesis_json(accounts, theta, tfuel, &[1], &[2])).unwrap();
    Ledger::from_genesis(MemoryStore::new(), config(), &g, PruningPolicy { keep_last: 4 }).unwrap()
}

pub fn ledger() -> Ledger<MemoryStore> {
    ledger_with(8, 1_000_000, 1_000_000)
}

/// A signed one-input one-output Send of `amount` from `from` (sequence `seq`) to
/// `to`, with `fee` TFUEL.
pub fn send(from: u8, seq: u64, to: u8, amount: Coins, fee: u64) -> Transaction {
    let f = tfuel(fee);
    let mut tx = Transaction::Send(SendTx {
        fee: f,
        inputs: vec![TxInput::new(addr(from), amount.checked_add(&f).unwrap(), seq)],
        outputs: vec![TxOutput::new(addr(to), amount)],
    });
    tx.sign(CHAIN, SignerRole::Input(0), &key(from)).unwrap();
    tx
}

/// Signs every signer of `tx` whose key is among `keys`.
pub fn signed(mut tx: Transaction, keys: &[u8]) -> Transaction {
    let ks: Vec<SecretKey> = keys.iter().map(|n| key(*n)).collect();
    let refs: Vec<&dyn primitives::Signer> = ks.iter().map(|k| k as &dyn primitives::Signer).collect();
    tx.sign_with_keys(CHAIN, &refs).unwrap();
    tx
}

pub fn stake_tx(source: u8, seq: u64, holder: u8, purpose: u8, theta: u64, fee: u64) -> StakeTx {
    StakeTx {
        fee: tfuel(fee),
        source: TxInput::new(addr(source), coins(theta, 0), seq),
        holder: TxOutput::new(addr(holder), Coins::zero()),
        purpose,
    }
}

pub fn deposit(source: u8, seq: u64, holder: u8, purpose: u8, theta: u64) -> Transaction {
    signed(Transaction::DepositStake(stake_tx(source, seq, holder, purpose, theta, 100)), &[source])
}

/// A DepositStakeV2 registering holder `holder`'s BLS key `bls` (holder-signed).
pub fn deposit_v2(source: u8, seq: u64, holder: u8, purpose: u8, theta: u64, bls: u8) -> Transaction {
    let base = stake_tx(source, seq, holder, purpose, theta, 100);
    let mut v2 = DepositStakeV2Tx {
        fee: base.fee,
        source: base.source,
        holder: base.holder,
        purpose,
        bls_pubkey: Some(bls_pk(bls)),
        bls_pop: Some(bls_pop(bls)),
        holder_sig: None,
    };
    v2.sign_holder(&key(holder)).unwrap();
    signed(Transaction::DepositStakeV2(v2), &[source])
}

pub fn withdraw(source: u8, seq: u64, holder: u8, purpose: u8) -> Transaction {
    signed(Transaction::WithdrawStake(stake_tx(source, seq, holder, purpose, 0, 100)), &[source])
}

/// Σ balances + Σ stakes (withdrawn or not) + Σ reserve funds + Σ ticket deposits, from
/// a committed root.
pub fn total_holdings(l: &Ledger<MemoryStore>) -> Coins {
    let mut total = Coins::zero();
    let trie = mpt_refcount::Trie::from_root(l.root());
    for (k, v) in trie.entries(l.store()).unwrap() {
        if k.starts_with(ledger::state::ACCOUNT_PREFIX) {
            let a = Account::decode(&k, &v).unwrap();
            total = total.checked_add(&a.coins).unwrap();
        } else if k.starts_with(ledger::state::VALIDATOR_PREFIX)
            || k.starts_with(ledger::state::GUARDIAN_PREFIX)
        {
            let h = StakeHolder::decode(&k, &v).unwrap();
            total.theta_wei += h.locked().unwrap();
        } else if k.starts_with(ledger::state::RESERVE_PREFIX) {
            let r = micropool::ReservedFund::decode(&v).unwrap();
            total.tfuel_wei += r.locked();
        } else if k.starts_with(ledger::tickets::TICKET_SENDER_PREFIX) {
            total.tfuel_wei += ledger::tickets::TicketSender::decode(&k, &v).unwrap().deposit;
        }
    }
    total
}
