//! The transactions a node carries: Theta wire transactions, and Ethereum transactions as
//! standard wallets sign them (issue 16's `eth_sendRawTransaction`), in one envelope.
//!
//! A body in a block payload, the mempool and the transaction gossip topic is either the
//! Theta wire bytes as they are, or [`ETH_MARKER`] followed by the raw Ethereum
//! transaction. Theta bytes start with `RLP(type)` (`0x80` or `0x01`–`0x0b`); an
//! Ethereum transaction starts with its type byte (`0x02`, which is also Theta's Send) or
//! an RLP list (legacy), so the marker, which neither can start with, keeps them apart.

use ledger::eth::EthTransaction;
use ledger::{ExecError, Ledger, Transaction, TxReceipt};
use mpt_refcount::NodeStore;
use primitives::{Address, H256, U256};

/// The first byte of an Ethereum transaction's body.
pub const ETH_MARKER: u8 = 0xee;

/// A decoded transaction body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeTx {
    /// A Theta transaction.
    Theta(Box<Transaction>),
    /// An Ethereum transfer (sender recovered at decode).
    Eth(Box<EthTransaction>),
}

/// Why a body does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not a Theta transaction.
    #[error(transparent)]
    Theta(#[from] ledger::Error),
    /// Not an Ethereum transaction.
    #[error(transparent)]
    Eth(#[from] ledger::eth::EthTxError),
}

impl NodeTx {
    /// Decodes a body of at most `limit` bytes.
    pub fn decode(body: &[u8], limit: usize) -> Result<Self, BodyError> {
        match body.split_first() {
            Some((&ETH_MARKER, raw)) => {
                if body.len() > limit {
                    return Err(BodyError::Eth(ledger::eth::EthTxError::TooLarge { len: body.len(), limit }));
                }
                Ok(NodeTx::Eth(Box::new(EthTransaction::decode(raw)?)))
            }
            _ => Ok(NodeTx::Theta(Box::new(Transaction::decode(body, limit)?))),
        }
    }

    /// The body of a raw Ethereum transaction.
    pub fn eth_body(raw: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(raw.len() + 1);
        b.push(ETH_MARKER);
        b.extend_from_slice(raw);
        b
    }

    /// The account whose sequence it uses, and that sequence.
    pub fn sequence(&self) -> Option<(Address, u64)> {
        match self {
            NodeTx::Theta(t) => crate::service::sequence_of(t),
            NodeTx::Eth(t) => t.theta_sequence().map(|s| (t.from, s)),
        }
    }

    /// Its hash: Theta's transaction id, or the Ethereum hash a wallet computes.
    pub fn hash(&self, chain_id: &str) -> Result<H256, ledger::Error> {
        match self {
            NodeTx::Theta(t) => t.id(chain_id),
            NodeTx::Eth(t) => Ok(t.hash),
        }
    }

    /// The fee it pays (mempool priority).
    pub fn fee(&self, ledger_fee: U256) -> U256 {
        match self {
            NodeTx::Theta(t) => crate::service::fee_of(t),
            NodeTx::Eth(_) => ledger_fee,
        }
    }

    /// Whether it would execute on `ledger` now (what a mempool asks).
    pub fn check<S: NodeStore>(&self, ledger: &Ledger<S>) -> Result<TxReceipt, ExecError> {
        match self {
            NodeTx::Theta(t) => ledger.check_tx(t),
            NodeTx::Eth(t) => ledger.check_eth(t),
        }
    }

    /// Applies it to `ledger`'s open block.
    pub fn apply<S: NodeStore>(&self, ledger: &mut Ledger<S>) -> Result<TxReceipt, ExecError> {
        match self {
            NodeTx::Theta(t) => ledger.apply_tx(t).cloned(),
            NodeTx::Eth(t) => ledger.apply_eth(t).cloned(),
        }
    }

    /// Whether it moves coins from one account to another (a Send or an Ethereum
    /// transfer).
    pub fn is_transfer(&self) -> bool {
        match self {
            NodeTx::Theta(t) => matches!(**t, Transaction::Send(_)),
            NodeTx::Eth(_) => true,
        }
    }
}
