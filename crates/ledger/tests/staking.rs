//! Staking: deposits (V1 and V2 with BLS key checks), withdrawals, returns after the
//! lock period, the validator set (top N, Theta's tie-break) and the guardian set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::U256;

const V: u8 = STAKE_FOR_VALIDATOR;
const G: u8 = STAKE_FOR_GUARDIAN;

fn err_of(l: &Ledger<MemoryStore>, tx: &Transaction) -> ExecError {
    l.check_tx(tx).expect_err("expected a refusal")
}

fn run(l: &mut Ledger<MemoryStore>, txs: &[Transaction]) -> BlockOutcome {
    let h = l.height() + 1;
    l.execute_block(h, txs).unwrap()
}

#[test]
fn validator_deposit_registers_key_and_joins_the_set() {
    let mut l = ledger();
    run(&mut l, &[deposit_v2(3, 1, 4, V, 2_000, 4)]);
    assert_eq!(l.account(&addr(3)).unwrap(), Account { sequence: 1, coins: coins(998_000, 999_900) });
    let vs = l.validators().unwrap();
    assert_eq!(vs.len(), 2);
    let v4 = vs.iter().find(|v| v.holder == addr(4)).unwrap();
    assert_eq!(v4.stake, U256::from(2_000u64));
    assert_eq!(v4.bls_pubkey, bls_pk(4));
    let set = l.validator_set().unwrap();
    assert_eq!(set.total_stake(), U256::from(3_000u64));
    // A V1 deposit tops up an existing holder; a second source adds a stake.
    run(&mut l, &[deposit(3, 2, 4, V, 1_000), deposit(5, 1, 4, V, 1_500)]);
    let v4 = l.validators().unwrap().into_iter().find(|v| v.holder == addr(4)).unwrap();
    assert_eq!(v4.stake, U256::from(4_500u64));
    assert_eq!(total_holdings(&l), l.supply().unwrap().expected_total().unwrap());
}

#[test]
fn guardian_deposit_and_guardian_set_sorted_by_holder() {
    let mut l = ledger();
    run(&mut l, &[deposit_v2(3, 1, 7, G, 300, 7), deposit_v2(5, 1, 5, G, 200, 5)]);
    let gs = l.guardians().unwrap();
    let holders: Vec<_> = gs.iter().map(|g| g.holder).collect();
    let mut sorted = holders.clone();
    sorted.sort();
    assert_eq!(holders, sorted);
    assert_eq!(gs.len(), 3);
    let set = l.guardian_set().unwrap();
    assert_eq!(set.total_stake(), 600);
    let i = holders.iter().position(|h| *h == addr(7)).unwrap();
    assert_eq!(set.stake(i), 300);
    assert_eq!(set.keys()[i].to_bytes(), bls_pk(7));
}

#[test]
fn deposit_errors() {
    let l = ledger();
    // First deposit without a BLS key (V1), or with a field missing.
    assert_eq!(
        err_of(&l, &deposit(3, 1, 4, G, 200)),
        ExecError::MissingBlsKey { holder: addr(4), missing: "BLS key (use DepositStakeV2)" }
    );
    let strip = |f: &dyn Fn(&mut DepositStakeV2Tx)| {
        let Transaction::DepositStakeV2(mut t) = deposit_v2(3, 1, 4, G, 200, 4) else { unreachable!() };
        f(&mut t);
        t.source.signature = None;
        signed(Transaction::DepositStakeV2(t), &[3])
    };
    assert!(matches!(
        err_of(&l, &strip(&|t| t.bls_pubkey = None)),
        ExecError::MissingBlsKey { missing: "bls_pubkey", .. }
    ));
    assert!(matches!(
        err_of(&l, &strip(&|t| t.bls_pop = None)),
        ExecError::MissingBlsKey { missing: "bls_pop", .. }
    ));
    assert!(matches!(
        err_of(&l, &strip(&|t| t.holder_sig = None)),
        ExecError::MissingBlsKey { missing: "holder_sig", .. }
    ));
    // Holder signature by someone else.
    let wrong_holder_sig = strip(&|t| {
        let d = t.holder_digest().unwrap();
        t.holder_sig = Some(key(6).sign_prehash(&d));
    });
    assert!(
        matches!(err_of(&l, &wrong_holder_sig), ExecError::BadHolderSignature { holder, .. } if holder == addr(4))
    );
    // A PoP of another key; bytes that are not a key.
    let other_pop = strip(&|t| {
        t.bls_pop = Some(bls_pop(9));
        t.sign_holder(&key(4)).unwrap();
    });
    assert!(matches!(err_of(&l, &other_pop), ExecError::BadBlsKey { .. }));
    let not_a_key = strip(&|t| {
        t.bls_pubkey = Some([0x11; 48]);
    });
    assert!(matches!(err_of(&l, &not_a_key), ExecError::BadBlsKey { .. }));
    // A key already in the pool (guardian 2's, from genesis).
    assert_eq!(err_of(&l, &deposit_v2(3, 1, 4, G, 200, 2)), ExecError::DuplicateBlsKey { owner: addr(2) });
    // ... but the same key may serve in the other pool.
    l.check_tx(&deposit_v2(3, 1, 4, V, 2_000, 2)).unwrap();
    // Minimums, coin, purpose, fee, sequence, balance.
    assert_eq!(
        err_of(&l, &deposit_v2(3, 1, 4, V, 999, 4)),
        ExecError::StakeBelowMinimum { amount: U256::from(999u64), min: U256::from(1_000u64) }
    );
    assert_eq!(
        err_of(&l, &deposit_v2(3, 1, 4, G, 99, 4)),
        ExecError::StakeBelowMinimum { amount: U256::from(99u64), min: U256::from(100u64) }
    );
    let mut t = stake_tx(3, 1, 1, V, 1_000, 100);
    t.source.coins.tfuel_wei = U256::one();
    assert_eq!(
        err_of(&l, &signed(Transaction::DepositStake(t), &[3])),
        ExecError::StakeNotTheta { tfuel_wei: U256::one() }
    );
    assert_eq!(
        err_of(&l, &deposit(3, 1, 1, STAKE_FOR_ELITE_EDGE_NODE, 1_000)),
        ExecError::UnsupportedPurpose { purpose: 2 }
    );
    // Purpose 7 has no sign bytes: signed as a validator deposit, then changed.
    let Transaction::DepositStake(mut t) = deposit(3, 1, 1, V, 1_000) else { unreachable!() };
    t.purpose = 7;
    assert_eq!(err_of(&l, &Transaction::DepositStake(t)), ExecError::Tx(Error::InvalidStakePurpose(7)));
    let t = signed(Transaction::DepositStake(stake_tx(3, 1, 1, V, 1_000, 99)), &[3]);
    assert!(matches!(err_of(&l, &t), ExecError::FeeTooLow { .. }));
    assert!(matches!(err_of(&l, &deposit(3, 2, 1, V, 1_000)), ExecError::BadSequence { .. }));
    assert!(matches!(
        err_of(&l, &deposit(3, 1, 1, V, 1_000_001)),
        ExecError::InsufficientFunds { currency: "THETA", .. }
    ));
    // A missing source signature.
    let t = Transaction::DepositStake(stake_tx(3, 1, 1, V, 1_000, 100));
    assert!(matches!(err_of(&l, &t), ExecError::Tx(Error::MissingSignature { .. })));
}

#[test]
fn withdraw_locks_then_returns_the_stake() {
    let mut l = ledger();
    run(&mut l, &[deposit_v2(3, 1, 4, V, 2_000, 4)]); // height 1
    run(&mut l, &[withdraw(3, 2, 4, V)]); // height 2: returns at 2 + 5 = 7
    // Withdrawn stake no longer counts: holder 4 drops out of the set.
    assert!(l.validators().unwrap().iter().all(|v| v.holder != addr(4)));
    assert_eq!(l.account(&addr(3)).unwrap().coins, coins(998_000, 999_800));
    // Cannot deposit during the lock, cannot withdraw twice.
    assert_eq!(
        err_of(&l, &deposit(3, 3, 4, V, 1_000)),
        ExecError::DepositDuringWithdrawal { source_addr: addr(3), holder: addr(4) }
    );
    assert_eq!(
        err_of(&l, &withdraw(3, 3, 4, V)),
        ExecError::AlreadyWithdrawn { source_addr: addr(3), holder: addr(4) }
    );
    for _ in 3..7 {
        let out = run(&mut l, &[]);
        assert!(out.returned_stakes.is_empty(), "locked until height 7");
    }
    // A mempool check at height 6 already counts the stake returned at the start of 7.
    l.check_tx(&send(3, 3, 9, coins(1_000_000, 0), 100)).unwrap();
    let out = run(&mut l, &[]); // height 7
    assert_eq!(
        out.returned_stakes,
        vec![ReturnedStake { purpose: V, holder: addr(4), source: addr(3), amount: U256::from(2_000u64) }]
    );
    assert_eq!(l.account(&addr(3)).unwrap().coins, coins(1_000_000, 999_800));
    // The holder left the pool and freed its key: it can register again.
    l.check_tx(&deposit_v2(3, 3, 4, V, 1_000, 4)).unwrap();
    assert_eq!(total_holdings(&l), l.supply().unwrap().expected_total().unwrap());
}

#[test]
fn withdraw_errors() {
    let l = ledger();
    assert_eq!(err_of(&l, &withdraw(3, 1, 4, V)), ExecError::NoSuchHolder { holder: addr(4), purpose: V });
    assert_eq!(
        err_of(&l, &withdraw(3, 1, 1, V)),
        ExecError::NoSuchStake { holder: addr(1), source_addr: addr(3) }
    );
    assert_eq!(err_of(&l, &withdraw(3, 1, 1, 2)), ExecError::UnsupportedPurpose { purpose: 2 });
    assert!(matches!(err_of(&l, &withdraw(1, 2, 1, V)), ExecError::BadSequence { .. }));
    let t = signed(Transaction::WithdrawStake(stake_tx(1, 1, 1, V, 0, 1)), &[1]);
    assert!(matches!(err_of(&l, &t), ExecError::FeeTooLow { .. }));
    // A source with no TFUEL for the fee.
    let g = Genesis::from_json(&genesis_json(0, 0, 0, &[1], &[])).unwrap();
    let poor = Ledger::from_genesis(MemoryStore::new(), config(), &g, PruningPolicy::default()).unwrap();
    assert!(matches!(
        poor.check_tx(&withdraw(1, 1, 1, V)),
        Err(ExecError::InsufficientFunds { currency: "TFUEL", .. })
    ));
    // Guardian 2 withdraws its genesis stake: fine.
    l.check_tx(&withdraw(2, 1, 2, G)).unwrap();
}

#[test]
fn validator_set_is_top_n_with_thetas_tie_break() {
    let mut l = ledger(); // max_validators 3; holder 1 has 1000 from genesis
    run(
        &mut l,
        &[
            deposit_v2(3, 1, 3, V, 5_000, 3),
            deposit_v2(4, 1, 4, V, 1_000, 4),
            deposit_v2(5, 1, 5, V, 1_000, 5),
            deposit_v2(6, 1, 6, V, 1_000, 6),
        ],
    );
    // Stakes: 3 → 5000; 1, 4, 5, 6 → 1000 each. Top 3: holder 3, then two of the 1000s by
    // checksummed hex descending.
    let mut tied = [addr(1), addr(4), addr(5), addr(6)];
    tied.sort_by_key(|a| std::cmp::Reverse(checksum_hex(a)));
    let mut expect = vec![addr(3), tied[0], tied[1]];
    expect.sort();
    let got: Vec<_> = l.validators().unwrap().into_iter().map(|v| v.holder).collect();
    assert_eq!(got, expect);
    assert_eq!(l.validator_set().unwrap().len(), 3);
}

#[test]
fn checksum_hex_is_eip55() {
    // EIP-55's own test vectors.
    for s in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ] {
        let a = primitives::Address::from(primitives::codec::from_hex_array::<20>(s).unwrap());
        assert_eq!(checksum_hex(&a), s);
    }
    // Theta's order differs from byte order where case flips it.
    let mut c = vec![
        (primitives::Address::repeat_byte(0xaa), U256::one(), [0u8; 48]),
        (primitives::Address::repeat_byte(0x0b), U256::one(), [0u8; 48]),
    ];
    rank_candidates(&mut c);
    assert!(checksum_hex(&c[0].0) >= checksum_hex(&c[1].0));
}

#[test]
fn guardian_set_needs_a_guardian() {
    let g = Genesis::from_json(&genesis_json(1, 1, 1, &[1], &[])).unwrap();
    let l = Ledger::from_genesis(MemoryStore::new(), config(), &g, PruningPolicy::default()).unwrap();
    assert!(matches!(l.guardian_set(), Err(ExecError::Set(_))));
    assert!(l.guardians().unwrap().is_empty());
}
