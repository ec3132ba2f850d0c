//! Harness for the decoder in `ledger`: Theta-wire transactions from untrusted bytes.

use ledger::{
    BLS_POP_LEN, BLS_PUBKEY_LEN, Coins, DepositStakeV2Tx, STAKE_FOR_GUARDIAN, SendTx, ServicePaymentTx,
    SignerRole, StakeTx, Transaction, TxInput, TxOutput,
};
use primitives::{Address, SecretKey, U256};

/// Decoding limit used by the harness (peers would pass something of this order).
const LIMIT: usize = 64 * 1024;

/// A transaction from untrusted bytes: canonical round trip, then every signature
/// check, the id and the JSON rendering of the `theta_tx` tool.
pub fn transaction(data: &[u8]) {
    if let Ok(tx) = Transaction::decode(data, LIMIT) {
        assert_eq!(tx.encode(), data, "transaction decoding must be canonical");
        let _ = tx.verify("privatenet");
        let _ = tx.id("privatenet");
        let _ = tx.check_supported();
        if let Transaction::DepositStakeV2(t) = &tx {
            let _ = t.verify_holder();
        }
        let json = ledger::json::to_json(&tx, "privatenet");
        assert_eq!(ledger::json::from_json(&json).map(|t| t.tx_type()), Ok(tx.tx_type()));
    }
    let _ = ledger::json::decode_line(&String::from_utf8_lossy(data), "privatenet", LIMIT);
}

/// Seeds: a signed Send, ServicePayment, DepositStake and DepositStakeV2.
pub fn seeds() -> Vec<Vec<u8>> {
    let a = SecretKey::from_bytes([5u8; 32]).expect("valid key");
    let b = SecretKey::from_bytes([6u8; 32]).expect("valid key");
    let fee = Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64));
    let amount = Coins::new(U256::from(1_000u64), U256::from(7u64));
    let mut send = Transaction::Send(SendTx {
        fee,
        inputs: vec![TxInput::new(a.address(), amount, 1), TxInput::new(b.address(), amount, 2)],
        outputs: vec![TxOutput::new(Address::repeat_byte(9), amount)],
    });
    send.sign_all("privatenet", &a).expect("sign");
    send.sign_all("privatenet", &b).expect("sign");
    let mut payment = Transaction::ServicePayment(ServicePaymentTx {
        fee,
        source: TxInput::new(a.address(), amount, 3),
        target: TxInput::new(b.address(), Coins::zero(), 4),
        payment_sequence: 1,
        reserve_sequence: 1,
        resource_id: "seed".into(),
    });
    payment.sign("privatenet", SignerRole::Source, &a).expect("sign");
    payment.sign("privatenet", SignerRole::Target, &b).expect("sign");
    let mut stake = Transaction::DepositStake(StakeTx {
        fee,
        source: TxInput::new(a.address(), amount, 5),
        holder: TxOutput::new(b.address(), Coins::zero()),
        purpose: 0,
    });
    stake.sign_all("privatenet", &a).expect("sign");
    let mut v2 = DepositStakeV2Tx {
        fee,
        source: TxInput::new(a.address(), amount, 6),
        holder: TxOutput::new(b.address(), Coins::zero()),
        purpose: STAKE_FOR_GUARDIAN,
        bls_pubkey: Some([0xa1; BLS_PUBKEY_LEN]),
        bls_pop: Some([0xb2; BLS_POP_LEN]),
        holder_sig: None,
    };
    v2.sign_holder(&b).expect("sign");
    let mut v2 = Transaction::DepositStakeV2(v2);
    v2.sign_all("privatenet", &a).expect("sign");
    vec![send.encode(), payment.encode(), stake.encode(), v2.encode()]
}
