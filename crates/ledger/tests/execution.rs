//! Block execution, Send, genesis and pruning: every rule and every error it returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::U256;

fn err_of(l: &Ledger<MemoryStore>, tx: &Transaction) -> ExecError {
    l.check_tx(tx).expect_err("expected a refusal")
}

/// Executing a block with one bad transaction changes nothing and names it.
fn assert_block_refused(l: &mut Ledger<MemoryStore>, txs: &[Transaction], index: usize) -> ExecError {
    let root = l.root();
    let height = l.height();
    let supply = l.supply().unwrap();
    match l.execute_block(height + 1, txs) {
        Err(ExecError::InBlock { index: i, error }) => {
            assert_eq!(i, index);
            assert_eq!(l.root(), root, "a refused block changes nothing");
            assert_eq!(l.height(), height);
            assert_eq!(l.supply().unwrap(), supply);
            *error
        }
        other => panic!("expected InBlock, got {other:?}"),
    }
}

#[test]
fn genesis_sets_balances_sets_and_supply() {
    let l = ledger();
    assert_eq!(l.height(), 0);
    assert_eq!(l.account(&addr(3)).unwrap(), Account { sequence: 0, coins: coins(1_000_000, 1_000_000) });
    assert_eq!(l.account(&addr(99)).unwrap(), Account::default());
    let s = l.supply().unwrap();
    // 8 accounts plus 1000 validator stake plus 100 guardian stake.
    assert_eq!(s.genesis, coins(8_000_000 + 1_100, 8_000_000));
    assert_eq!(total_holdings(&l), s.expected_total().unwrap());
    let vs = l.validator_set().unwrap();
    assert_eq!(vs.len(), 1);
    assert_eq!(vs.total_stake(), U256::from(1_000u64));
    assert_eq!(vs.keys()[0].to_bytes(), bls_pk(1));
    let gs = l.guardian_set().unwrap();
    assert_eq!(gs.len(), 1);
    assert_eq!(gs.total_stake(), 100);
    // The same genesis gives the same root.
    let again = ledger();
    assert_eq!(again.root(), l.root());
}

#[test]
fn genesis_errors() {
    let cfg = config();
    let p = PruningPolicy::default();
    let open = |json: &str| {
        Genesis::from_json(json).and_then(|g| Ledger::from_genesis(MemoryStore::new(), cfg.clone(), &g, p))
    };
    assert!(matches!(open("{"), Err(ExecError::Genesis(_))));
    assert!(matches!(open(r#"{"chain_id":"other"}"#), Err(ExecError::Genesis(m)) if m.contains("chain id")));
    let a = primitives::codec::to_hex(addr(1).as_bytes());
    let dup = format!(
        r#"{{"chain_id":"{CHAIN}","accounts":[{{"address":"{a}","theta":"1","tfuel":"1"}},{{"address":"{a}","theta":"1","tfuel":"1"}}]}}"#
    );
    assert!(matches!(open(&dup), Err(ExecError::Genesis(m)) if m.contains("duplicate")));
    let bad_amount =
        format!(r#"{{"chain_id":"{CHAIN}","accounts":[{{"address":"{a}","theta":"-1","tfuel":"1"}}]}}"#);
    assert!(matches!(open(&bad_amount), Err(ExecError::Genesis(m)) if m.contains("decimal")));
    let bad_addr =
        format!(r#"{{"chain_id":"{CHAIN}","accounts":[{{"address":"0x12","theta":"1","tfuel":"1"}}]}}"#);
    assert!(matches!(open(&bad_addr), Err(ExecError::Genesis(_))));
    let with_seq = format!(
        r#"{{"chain_id":"{CHAIN}","accounts":[{{"address":"{a}","theta":"1","tfuel":"1","sequence":5}}]}}"#
    );
    let l = open(&with_seq).unwrap();
    assert_eq!(l.account(&addr(1)).unwrap(), Account { sequence: 5, coins: coins(1, 1) });
    let unknown = format!(r#"{{"chain_id":"{CHAIN}","extra":1}}"#);
    assert!(matches!(open(&unknown), Err(ExecError::Genesis(_))));
    // A validator with a PoP of another key.
    let mut g = Genesis::from_json(&genesis_json(1, 1, 1, &[1], &[])).unwrap();
    g.validators[0].bls_pop = primitives::codec::to_hex(bls_pop(2));
    assert!(matches!(
        Ledger::from_genesis(MemoryStore::new(), cfg.clone(), &g, p),
        Err(ExecError::BadBlsKey { .. })
    ));
    // Two guardians with one BLS key.
    let mut g = Genesis::from_json(&genesis_json(1, 1, 1, &[], &[1, 2])).unwrap();
    g.guardians[1].bls_pubkey = g.guardians[0].bls_pubkey.clone();
    g.guardians[1].bls_pop = g.guardians[0].bls_pop.clone();
    assert!(matches!(
        Ledger::from_genesis(MemoryStore::new(), cfg.clone(), &g, p),
        Err(ExecError::DuplicateBlsKey { .. })
    ));
    // A stake below the minimum.
    let mut g = Genesis::from_json(&genesis_json(1, 1, 1, &[1], &[])).unwrap();
    g.validators[0].stake = "999".into();
    assert!(matches!(
        Ledger::from_genesis(MemoryStore::new(), cfg, &g, p),
        Err(ExecError::StakeBelowMinimum { .. })
    ));
}

#[test]
fn send_moves_coins_burns_fee_and_bumps_sequence() {
    let mut l = ledger();
    let before = l.supply().unwrap();
    let out = l.execute_block(1, &[send(3, 1, 4, coins(10, 20), 100)]).unwrap();
    assert_eq!(out.height, 1);
    assert_eq!(out.state_root, l.root());
    assert_eq!(out.fees_burned, tfuel(100));
    assert_eq!(out.receipts.len(), 1);
    assert_eq!(l.account(&addr(3)).unwrap(), Account { sequence: 1, coins: coins(999_990, 999_880) });
    assert_eq!(l.account(&addr(4)).unwrap(), Account { sequence: 0, coins: coins(1_000_010, 1_000_020) });
    let after = l.supply().unwrap();
    assert_eq!(after.burned, before.burned.checked_add(&tfuel(100)).unwrap());
    assert_eq!(total_holdings(&l), after.expected_total().unwrap());
    // A new account is created by an output.
    l.execute_block(2, &[send(3, 2, 77, coins(1, 0), 100)]).unwrap();
    assert_eq!(l.account(&addr(77)).unwrap().coins, coins(1, 0));
}

#[test]
fn multi_input_multi_output_send() {
    let mut l = ledger();
    let fee = tfuel(200); // 4 accounts: max(2, 4) * 100 / 2
    let tx = Transaction::Send(SendTx {
        fee,
        inputs: vec![TxInput::new(addr(1), coins(5, 150), 1), TxInput::new(addr(2), coins(7, 50), 1)],
        outputs: vec![TxOutput::new(addr(3), coins(12, 0)), TxOutput::new(addr(4), coins(0, 0))],
    });
    let tx = signed(tx, &[1, 2]);
    l.execute_block(1, &[tx]).unwrap();
    assert_eq!(l.account(&addr(1)).unwrap(), Account { sequence: 1, coins: coins(999_995, 999_850) });
    assert_eq!(l.account(&addr(2)).unwrap(), Account { sequence: 1, coins: coins(999_993, 999_950) });
    assert_eq!(l.account(&addr(3)).unwrap().coins, coins(1_000_012, 1_000_000));
}

#[test]
fn send_errors() {
    let l = ledger();
    // Replay / gap: the sequence must be the next one.
    assert_eq!(
        err_of(&l, &send(3, 2, 4, coins(1, 0), 100)),
        ExecError::BadSequence { address: addr(3), expected: 1, got: 2 }
    );
    // Fee too low, fee in THETA.
    assert_eq!(
        err_of(&l, &send(3, 1, 4, coins(1, 0), 99)),
        ExecError::FeeTooLow { fee: U256::from(99u64), min: U256::from(100u64) }
    );
    let mut t = Transaction::Send(SendTx {
        fee: coins(1, 100),
        inputs: vec![TxInput::new(addr(3), coins(2, 100), 1)],
        outputs: vec![TxOutput::new(addr(4), coins(1, 0))],
    });
    t = signed(t, &[3]);
    assert_eq!(err_of(&l, &t), ExecError::FeeNotTfuel { theta_wei: U256::one() });
    // Insufficient funds, in each coin.
    assert!(matches!(
        err_of(&l, &send(3, 1, 4, coins(1_000_001, 0), 100)),
        ExecError::InsufficientFunds { currency: "THETA", .. }
    ));
    assert!(matches!(
        err_of(&l, &send(3, 1, 4, coins(0, 1_000_000), 100)),
        ExecError::InsufficientFunds { currency: "TFUEL", .. }
    ));
    // Unbalanced.
    let t = signed(
        Transaction::Send(SendTx {
            fee: tfuel(100),
            inputs: vec![TxInput::new(addr(3), coins(5, 100), 1)],
            outputs: vec![TxOutput::new(addr(4), coins(4, 0))],
        }),
        &[3],
    );
    assert_eq!(
        err_of(&l, &t),
        ExecError::Unbalanced {
            currency: "THETA",
            inputs: U256::from(5u64),
            outputs_plus_fee: U256::from(4u64)
        }
    );
    let t = signed(
        Transaction::Send(SendTx {
            fee: tfuel(100),
            inputs: vec![TxInput::new(addr(3), coins(5, 101), 1)],
            outputs: vec![TxOutput::new(addr(4), coins(5, 0))],
        }),
        &[3],
    );
    assert!(matches!(err_of(&l, &t), ExecError::Unbalanced { currency: "TFUEL", .. }));
    // No inputs, no outputs, duplicate inputs, too many accounts.
    let t = Transaction::Send(SendTx {
        fee: tfuel(100),
        inputs: vec![],
        outputs: vec![TxOutput::new(addr(4), coins(0, 0))],
    });
    assert_eq!(err_of(&l, &t), ExecError::NoInputs);
    let t = signed(
        Transaction::Send(SendTx {
            fee: tfuel(100),
            inputs: vec![TxInput::new(addr(3), tfuel(100), 1)],
            outputs: vec![],
        }),
        &[3],
    );
    assert_eq!(err_of(&l, &t), ExecError::NoOutputs);
    let t = signed(
        Transaction::Send(SendTx {
            fee: tfuel(150),
            inputs: vec![TxInput::new(addr(3), tfuel(100), 1), TxInput::new(addr(3), tfuel(50), 1)],
            outputs: vec![TxOutput::new(addr(4), coins(0, 0))],
        }),
        &[3],
    );
    assert_eq!(err_of(&l, &t), ExecError::DuplicateInput { address: addr(3) });
    let mut cfg_small = config();
    cfg_small.max_accounts_per_tx = 2;
    let g = Genesis::from_json(&genesis_json(4, 1000, 1000, &[], &[])).unwrap();
    let small = Ledger::from_genesis(MemoryStore::new(), cfg_small, &g, PruningPolicy::default()).unwrap();
    let t = signed(
        Transaction::Send(SendTx {
            fee: tfuel(150),
            inputs: vec![TxInput::new(addr(3), tfuel(150), 1)],
            outputs: vec![TxOutput::new(addr(4), coins(0, 0)), TxOutput::new(addr(2), coins(0, 0))],
        }),
        &[3],
    );
    assert_eq!(small.check_tx(&t).unwrap_err(), ExecError::TooManyAccounts { count: 3, max: 2 });
    // Checked before any signature: an unsigned oversized Send is refused for its size.
    let mut unsigned = t.clone();
    if let Transaction::Send(s) = &mut unsigned {
        s.inputs[0].signature = None;
    }
    assert_eq!(small.check_tx(&unsigned).unwrap_err(), ExecError::TooManyAccounts { count: 3, max: 2 });
    // Signatures: missing, wrong signer, wrong chain.
    let unsigned = Transaction::Send(SendTx {
        fee: tfuel(100),
        inputs: vec![TxInput::new(addr(3), coins(1, 100), 1)],
        outputs: vec![TxOutput::new(addr(4), coins(1, 0))],
    });
    assert!(matches!(err_of(&l, &unsigned), ExecError::Tx(Error::MissingSignature { .. })));
    let mut forged = unsigned.clone();
    if let Transaction::Send(s) = &mut forged {
        let sig = key(5)
            .sign_prehash(&primitives::keccak256(unsigned.sign_bytes(CHAIN, SignerRole::Input(0)).unwrap()));
        s.inputs[0].signature = Some(sig);
    }
    assert!(matches!(err_of(&l, &forged), ExecError::Tx(Error::WrongSigner { .. })));
    let mut other_chain = unsigned.clone();
    other_chain.sign("mainnet", SignerRole::Input(0), &key(3)).unwrap();
    assert!(matches!(err_of(&l, &other_chain), ExecError::Tx(Error::WrongSigner { .. })));
    // Overflow of an output.
    let t = signed(
        Transaction::Send(SendTx {
            fee: tfuel(150),
            inputs: vec![TxInput::new(addr(3), tfuel(150), 1)],
            outputs: vec![
                TxOutput::new(addr(4), Coins::new(U256::MAX, U256::zero())),
                TxOutput::new(addr(5), Coins::new(U256::MAX, U256::zero())),
            ],
        }),
        &[3],
    );
    assert!(matches!(err_of(&l, &t), ExecError::Overflow { .. }));
}

#[test]
fn theta_default_fees() {
    let cfg = LedgerConfig::theta(CHAIN);
    assert_eq!(cfg.min_fee, U256::from(THETA_MIN_TX_FEE));
    assert_eq!(cfg.send_min_fee(1), U256::from(THETA_MIN_TX_FEE));
    assert_eq!(cfg.send_min_fee(2), U256::from(THETA_MIN_TX_FEE));
    assert_eq!(cfg.send_min_fee(3), U256::from(450_000_000_000_000_000u64));
    assert_eq!(cfg.max_accounts_per_tx, 512);
    assert_eq!(cfg.max_validators, 31);
    assert_eq!(cfg.return_locking_period, 28_800);
    assert_eq!(cfg.min_validator_stake, primitives::TOKEN * U256::from(200_000u64));
    assert_eq!(cfg.min_guardian_stake, primitives::TOKEN * U256::from(1_000u64));
}

#[test]
fn replay_of_an_executed_send_is_refused() {
    let mut l = ledger();
    let tx = send(3, 1, 4, coins(1, 0), 100);
    l.execute_block(1, std::slice::from_ref(&tx)).unwrap();
    let e = assert_block_refused(&mut l, std::slice::from_ref(&tx), 0);
    assert_eq!(e, ExecError::BadSequence { address: addr(3), expected: 2, got: 1 });
    // Within one block too.
    let tx2 = send(3, 2, 4, coins(1, 0), 100);
    let e = assert_block_refused(&mut l, &[tx2.clone(), tx2], 1);
    assert!(matches!(e, ExecError::BadSequence { .. }));
}

#[test]
fn block_is_all_or_nothing_and_deterministic() {
    let mut a = ledger();
    let mut b = ledger();
    let txs =
        vec![send(1, 1, 2, coins(3, 4), 100), send(2, 1, 3, coins(5, 0), 100), send(1, 2, 9, tfuel(7), 100)];
    let ra = a.execute_block(1, &txs).unwrap();
    let rb = b.execute_block(1, &txs).unwrap();
    assert_eq!(ra, rb);
    // A bad last transaction: nothing of the block lands.
    let bad = vec![send(1, 3, 2, coins(1, 0), 100), send(4, 5, 2, coins(1, 0), 100)];
    let e = assert_block_refused(&mut a, &bad, 1);
    assert!(matches!(e, ExecError::BadSequence { .. }));
    assert_eq!(a.account(&addr(1)).unwrap().sequence, 2);
    // Heights must increase.
    assert_eq!(a.execute_block(1, &[]).unwrap_err(), ExecError::HeightNotIncreasing { last: 1, got: 1 });
    // An empty block still commits (the height is part of the state).
    let out = a.execute_block(2, &[]).unwrap();
    assert_ne!(out.state_root, ra.state_root);
}

#[test]
fn block_api_step_by_step() {
    let mut l = ledger();
    assert_eq!(l.apply_tx(&send(1, 1, 2, tfuel(1), 100)).unwrap_err(), ExecError::NoBlockInProgress);
    assert_eq!(l.commit_block().unwrap_err(), ExecError::NoBlockInProgress);
    l.begin_block(1).unwrap();
    assert!(matches!(l.begin_block(2), Err(ExecError::BlockInProgress)));
    assert!(matches!(l.execute_block(2, &[]), Err(ExecError::BlockInProgress)));
    l.apply_tx(&send(1, 1, 2, tfuel(1), 100)).unwrap();
    // check_tx sees the open block.
    assert!(matches!(l.check_tx(&send(1, 1, 2, tfuel(1), 100)), Err(ExecError::BadSequence { .. })));
    l.check_tx(&send(1, 2, 2, tfuel(1), 100)).unwrap();
    // A refused transaction changes nothing of the open block.
    assert!(l.apply_tx(&send(1, 3, 2, tfuel(1), 100)).is_err());
    l.apply_tx(&send(1, 2, 2, tfuel(1), 100)).unwrap();
    let root = l.root();
    l.abort_block();
    assert_eq!(l.root(), root);
    assert_eq!(l.account(&addr(1)).unwrap().sequence, 0);
    l.begin_block(1).unwrap();
    l.apply_tx(&send(1, 1, 2, tfuel(1), 100)).unwrap();
    let out = l.commit_block().unwrap();
    assert_eq!(out.receipts.len(), 1);
    assert_eq!(l.account(&addr(1)).unwrap().sequence, 1);
}

#[test]
fn every_type_is_routed_to_its_rule_and_smart_contracts_are_refused() {
    let l = ledger();
    let coinbase = Transaction::Coinbase(CoinbaseTx {
        proposer: TxInput::new(addr(1), Coins::zero(), 1),
        outputs: vec![TxOutput::new(addr(2), tfuel(1))],
        block_height: 1,
    });
    // A Coinbase needs the block's context (tests/coinbase.rs); a mempool never has it.
    assert_eq!(err_of(&l, &signed(coinbase, &[1])), ExecError::NoBlockContext);
    let slash = Transaction::Slash(SlashTx {
        proposer: TxInput::new(addr(1), Coins::zero(), 1),
        slashed_address: addr(2),
        reserve_sequence: 1,
        slash_proof: vec![1, 2, 3],
    });
    // Slash executes (tests/slash_exec.rs): holder 1 is a validator, so garbage evidence
    // is refused as such; a non-validator proposer is refused first.
    assert!(matches!(
        err_of(&l, &signed(slash.clone(), &[1])),
        ExecError::Slash(ledger::slashing::SlashError::Malformed { .. })
    ));
    let Transaction::Slash(mut by_other) = slash else { unreachable!() };
    by_other.proposer = TxInput::new(addr(3), Coins::zero(), 1);
    assert_eq!(
        err_of(&l, &signed(Transaction::Slash(by_other), &[3])),
        ExecError::NotValidator { proposer: addr(3), height: 1 }
    );
    let split = Transaction::SplitRule(SplitRuleTx {
        fee: tfuel(100),
        resource_id: "r".into(),
        initiator: TxInput::new(addr(1), tfuel(100), 1),
        splits: vec![],
        duration: 10,
    });
    // SplitRule executes (tests/split_rule.rs).
    assert_eq!(l.check_tx(&signed(split, &[1])).map(|r| r.tx_type), Ok(TxType::SplitRule.into()));
    let srd = Transaction::StakeRewardDistribution(StakeRewardDistributionTx {
        fee: tfuel(100),
        holder: TxInput::new(addr(1), tfuel(100), 1),
        beneficiary: TxOutput::new(addr(2), Coins::zero()),
        split_basis_point: 10,
    });
    // StakeRewardDistribution executes (tests/coinbase.rs).
    assert_eq!(l.check_tx(&signed(srd, &[1])).map(|r| r.tx_type), Ok(TxType::StakeRewardDistribution.into()));
    let sc = Transaction::SmartContract(SmartContractTx {
        from: TxInput::new(addr(1), Coins::zero(), 1),
        to: TxOutput::new(addr(2), Coins::zero()),
        gas_limit: 1,
        gas_price: U256::one(),
        data: vec![],
    });
    assert_eq!(
        err_of(&l, &signed(sc, &[1])),
        ExecError::Tx(Error::Unsupported { tx_type: TxType::SmartContract })
    );
}

#[test]
fn open_reopens_a_committed_state() {
    let mut l = ledger();
    l.execute_block(1, &[send(1, 1, 2, tfuel(5), 100)]).unwrap();
    let root = l.root();
    let store = l.into_store();
    let l2 = Ledger::open(store, config(), root, PruningPolicy::default()).unwrap();
    assert_eq!(l2.height(), 1);
    assert_eq!(l2.account(&addr(1)).unwrap().sequence, 1);
    let mut other = config();
    other.chain_id = "mainnet".into();
    let store = l2.into_store();
    assert!(matches!(Ledger::open(store, other, root, PruningPolicy::default()), Err(ExecError::Genesis(_))));
}

#[test]
fn pruning_keeps_window_checkpoints_and_everything_unfinalized() {
    let mut l = ledger(); // keep_last 4
    let mut roots = vec![l.root()];
    for h in 1..=10u64 {
        roots.push(l.execute_block(h, &[send(1, h, 2, tfuel(1), 100)]).unwrap().state_root);
    }
    // Nothing finalized yet: every state is kept.
    for (h, r) in roots.iter().enumerate() {
        assert_eq!(l.root_at(h as u64), Some(*r), "height {h} kept while unfinalized");
        assert_eq!(l.account_at(*r, &addr(1)).unwrap().sequence, h as u64);
    }
    // Finalize 6: heights below 6 outside the window (last 4: 7..=10) go, 6..=10 stay.
    let pruned = l.finalize(6).unwrap();
    assert_eq!(pruned.len(), 6);
    for h in 0..6u64 {
        assert_eq!(l.root_at(h), None);
    }
    for h in 6..=10u64 {
        assert_eq!(l.root_at(h), Some(roots[h as usize]));
    }
    // More blocks: 6 stays as a checkpoint; 7..=10 leave the window but are at or above
    // the last finalized height, so they stay until the next finalization passes them.
    for h in 11..=16u64 {
        l.execute_block(h, &[send(1, h, 2, tfuel(1), 100)]).unwrap();
    }
    for h in 6..=16u64 {
        assert!(l.root_at(h).is_some(), "height {h}");
    }
    l.finalize(14).unwrap();
    assert!(l.root_at(6).is_some(), "a checkpoint stays");
    for h in 7..=12u64 {
        assert_eq!(l.root_at(h), None, "height {h}");
    }
    for h in 13..=16u64 {
        assert!(l.root_at(h).is_some(), "height {h}");
    }
    assert_eq!(l.last_finalized(), Some(14));
    // The store holds exactly the retained states' nodes: reading each works.
    for r in l.retained_roots() {
        mpt_refcount::Trie::from_root(r).entries(l.store()).unwrap();
    }
    // Errors.
    assert!(matches!(l.finalize(17), Err(ExecError::Pruning(_))));
    assert!(matches!(l.finalize(10), Err(ExecError::Pruning(_))));
}

#[test]
fn pruned_store_matches_a_fresh_replay() {
    // After pruning, the store holds no node of a dropped state: its size equals that of
    // a ledger that replays the same blocks and prunes the same way.
    let run = |finalize_every: u64| {
        let mut l = ledger();
        for h in 1..=12u64 {
            l.execute_block(h, &[send(1, h, 2, tfuel(1), 100)]).unwrap();
            if h % finalize_every == 0 {
                l.finalize(h).unwrap();
            }
        }
        l
    };
    let a = run(3);
    let b = run(3);
    assert_eq!(a.store().len(), b.store().len());
    assert_eq!(a.retained_roots(), b.retained_roots());
    let c = run(100); // never finalized: keeps everything
    assert!(c.store().len() > a.store().len());
}

#[test]
fn batch_signature_check_is_per_transaction_and_in_order() {
    // With `parallel` this runs on rayon; the answers are the same, in order.
    let mut txs: Vec<Transaction> = (1..=6).map(|n| send(n, 1, 7, tfuel(1), 100)).collect();
    if let Transaction::Send(s) = &mut txs[3] {
        s.inputs[0].signature = None;
    }
    txs.push(Transaction::Coinbase(CoinbaseTx {
        proposer: TxInput::new(addr(1), Coins::zero(), 1),
        outputs: vec![],
        block_height: 1,
    }));
    let checks = verify_batch(&config(), &txs);
    assert_eq!(checks.len(), 7);
    for (i, c) in checks.iter().enumerate() {
        match i {
            3 => assert!(matches!(c, Err(ExecError::Tx(Error::MissingSignature { .. })))),
            6 => assert!(matches!(c, Err(ExecError::Tx(Error::MissingSignature { .. })))),
            _ => assert_eq!(c, &Ok(())),
        }
    }
    // In a block the first failing transaction is named.
    let mut l = ledger();
    let e = assert_block_refused(&mut l, &txs, 3);
    assert!(matches!(e, ExecError::Tx(Error::MissingSignature { .. })));
}

#[test]
fn stored_records_decode_canonically_or_are_corrupt() {
    let a = Account { sequence: 3, coins: coins(5, 7) };
    let key = ledger::state::account_key(&addr(1));
    assert!(key.starts_with(b"ls/a/"));
    assert_eq!(Account::decode(&key, &a.encode()).unwrap(), a);
    assert!(Account::default().encode().is_empty(), "an empty account is no value");
    for bad in [vec![0xc0], vec![0xc2, 0x03, 0x80], vec![0xc4, 0x00, 0xc2, 0x05, 0x07], vec![0xff]] {
        assert!(matches!(Account::decode(&key, &bad), Err(ExecError::CorruptState { .. })), "{bad:?}");
    }
    let h = StakeHolder {
        holder: addr(2),
        bls_pubkey: bls_pk(2),
        stakes: vec![Stake { source: addr(3), amount: U256::from(9u64), withdrawn: true, return_height: 12 }],
    };
    assert_eq!(StakeHolder::decode(b"k", &h.encode()).unwrap(), h);
    let mut bytes = h.encode();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    assert!(StakeHolder::decode(b"k", &bytes).is_err());
    let s = Supply { genesis: coins(1, 2), issued: coins(3, 4), burned: coins(0, 1), slashed: coins(0, 1) };
    assert_eq!(Supply::decode(&s.encode()).unwrap(), s);
    assert_eq!(s.expected_total(), Some(coins(4, 4)));
    assert!(matches!(Supply::decode(&[0xc0]), Err(ExecError::CorruptState { .. })));
}

#[test]
fn a_state_without_validators_has_no_validator_set() {
    let g = Genesis::from_json(&genesis_json(1, 1, 1, &[], &[2])).unwrap();
    let l = Ledger::from_genesis(MemoryStore::new(), config(), &g, PruningPolicy::default()).unwrap();
    assert!(l.validators().unwrap().is_empty());
    assert!(matches!(l.validator_set(), Err(ExecError::Set(_))));
}
