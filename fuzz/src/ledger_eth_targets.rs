//! Harness for `ledger::eth`: Ethereum transactions (legacy, EIP-155, EIP-1559) from
//! untrusted bytes, as `eth_sendRawTransaction` receives them.

use ledger::eth::{EthTransaction, EthTxKind};
use primitives::{U256, keccak256};

/// Decodes; an accepted transaction must be self-consistent: its hash is keccak256 of the
/// input, its chain id matches its kind, the fee cap is computable or reported as
/// overflowing, and the sender was recovered (decoding twice gives the same result).
pub fn eth_transaction(data: &[u8]) {
    if let Ok(tx) = EthTransaction::decode(data) {
        assert_eq!(tx.hash, keccak256(data));
        assert_eq!(tx.chain_id.is_none(), tx.kind == EthTxKind::Legacy);
        assert_eq!(tx.max_priority_fee_per_gas.is_some(), tx.kind == EthTxKind::Eip1559);
        if let Some(p) = tx.max_priority_fee_per_gas {
            assert!(p <= tx.max_fee_per_gas);
        }
        assert_eq!(tx.max_fee(), tx.max_fee_per_gas.checked_mul(U256::from(tx.gas)));
        assert_eq!(EthTransaction::decode(data).as_ref(), Ok(&tx));
    }
}

/// Seeds: the eth-account vectors of `crates/ledger/tests/fixtures/eth_transactions.json`.
pub fn seeds() -> Vec<Vec<u8>> {
    let json = include_str!("../../crates/ledger/tests/fixtures/eth_transactions.json");
    json.split("\"raw\": \"0x")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(hex_decode)
        .collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}
