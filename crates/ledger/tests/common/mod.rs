//! Shared builders: one transaction of every type, keys and amounts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ledger::*;
use primitives::{Address, SecretKey, U256};

pub const CHAIN: &str = "privatenet";

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes([n; 32]).unwrap()
}

pub fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

pub fn coins(theta: u64, tfuel: u64) -> Coins {
    Coins::new(U256::from(theta), U256::from(tfuel))
}

pub fn fee() -> Coins {
    Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64))
}

pub fn send_tx_from(a: &SecretKey) -> Transaction {
    Transaction::Send(SendTx {
        fee: fee(),
        inputs: vec![TxInput::new(a.address(), Coins::new(U256::from(10u64), fee().tfuel_wei + 5), 7)],
        outputs: vec![TxOutput::new(addr(0xab), coins(10, 5))],
    })
}

/// A signed Send.
pub fn send_tx() -> Transaction {
    let a = key(1);
    let mut tx = send_tx_from(&a);
    tx.sign(CHAIN, SignerRole::Input(0), &a).unwrap();
    tx
}

pub fn service_payment_unsigned(payer: &SecretKey, payee: &SecretKey) -> Transaction {
    Transaction::ServicePayment(ServicePaymentTx {
        fee: fee(),
        source: TxInput::new(payer.address(), coins(0, 1_000), 3),
        target: TxInput::new(payee.address(), Coins::zero(), 8),
        payment_sequence: 2,
        reserve_sequence: 1,
        resource_id: "vid123".into(),
    })
}

pub fn deposit_v2_unsigned(staker: &SecretKey, holder: &SecretKey, purpose: u8) -> Transaction {
    Transaction::DepositStakeV2(DepositStakeV2Tx {
        fee: fee(),
        source: TxInput::new(staker.address(), coins(1_000, 0), 2),
        holder: TxOutput::new(holder.address(), Coins::zero()),
        purpose,
        bls_pubkey: Some([0xa1; BLS_PUBKEY_LEN]),
        bls_pop: Some([0xb2; BLS_POP_LEN]),
        holder_sig: None,
    })
}

/// One transaction of each of the twelve types, in type order, unsigned.
pub fn all_types_unsigned() -> Vec<Transaction> {
    let (a, b, h) = (key(1), key(2), key(3));
    let input = |k: &SecretKey, seq| TxInput::new(k.address(), coins(5, 7), seq);
    let stake = |purpose| StakeTx {
        fee: fee(),
        source: input(&a, 4),
        holder: TxOutput::new(h.address(), Coins::zero()),
        purpose,
    };
    vec![
        Transaction::Coinbase(CoinbaseTx {
            proposer: input(&a, 1),
            outputs: vec![TxOutput::new(addr(5), coins(0, 48)), TxOutput::new(addr(6), coins(0, 2))],
            block_height: 1_000_000,
        }),
        Transaction::Slash(SlashTx {
            proposer: input(&a, 2),
            slashed_address: addr(9),
            reserve_sequence: 3,
            slash_proof: vec![1, 2, 3, 4, 5],
        }),
        Transaction::Send(SendTx {
            fee: fee(),
            inputs: vec![input(&a, 1), input(&b, 9)],
            outputs: vec![TxOutput::new(addr(4), coins(10, 14))],
        }),
        Transaction::ReserveFund(ReserveFundTx {
            fee: fee(),
            source: input(&a, 3),
            collateral: coins(0, 1_001),
            resource_ids: vec!["vid1".into(), "vid2".into()],
            duration: 300,
        }),
        Transaction::ReleaseFund(ReleaseFundTx { fee: fee(), source: input(&a, 5), reserve_sequence: 3 }),
        service_payment_unsigned(&a, &b),
        Transaction::SplitRule(SplitRuleTx {
            fee: fee(),
            resource_id: "vid1".into(),
            initiator: input(&a, 6),
            splits: vec![
                Split { address: addr(7), percentage: 30 },
                Split { address: addr(8), percentage: 70 },
            ],
            duration: 1_000,
        }),
        Transaction::SmartContract(SmartContractTx {
            from: input(&a, 7),
            to: TxOutput::new(addr(0xcc), Coins::zero()),
            gas_limit: 10_000_000,
            gas_price: U256::from(4_000_000_000_000u64),
            data: vec![0x60, 0x80, 0x60, 0x40],
        }),
        Transaction::DepositStake(stake(STAKE_FOR_VALIDATOR)),
        Transaction::WithdrawStake(stake(STAKE_FOR_GUARDIAN)),
        deposit_v2_unsigned(&a, &h, STAKE_FOR_GUARDIAN),
        Transaction::StakeRewardDistribution(StakeRewardDistributionTx {
            fee: fee(),
            holder: input(&h, 2),
            beneficiary: TxOutput::new(addr(0xbe), Coins::zero()),
            split_basis_point: 250,
        }),
    ]
}

/// Every type, every signer signed (ServicePayment source first; DepositStakeV2 holder
/// signature first).
pub fn all_types_signed(chain: &str) -> Vec<Transaction> {
    let keys = [key(1), key(2), key(3)];
    all_types_unsigned()
        .into_iter()
        .map(|mut tx| {
            if let Transaction::DepositStakeV2(t) = &mut tx {
                t.sign_holder(&keys[2]).unwrap();
            }
            for k in &keys {
                tx.sign_all(chain, k).unwrap();
            }
            // sign_all per key signs a key's roles in order; ServicePayment's target
            // (key 2) signs after its source (key 1) because key 1 comes first.
            tx
        })
        .collect()
}
