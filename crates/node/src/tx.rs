//! The transactions a node carries: Theta wire transactions, Ethereum transactions as
//! standard wallets sign them (issue 16's `eth_sendRawTransaction`), and meshcast's
//! ticket broker transactions ([`ledger::tickets`]), in one envelope.
//!
//! A body in a block payload, the mempool and the transaction gossip topic is either the
//! Theta wire bytes as they are, [`ETH_MARKER`] followed by the raw Ethereum transaction,
//! or [`TICKET_MARKER`] followed by a ticket transaction. Theta bytes start with
//! `RLP(type)` (`0x80` or `0x01`–`0x0b`); an Ethereum transaction starts with its type
//! byte (`0x02`, which is also Theta's Send) or an RLP list (legacy, `0xc0` and up), so
//! the markers, which none of them can start with, keep them apart.

use ledger::eth::EthTransaction;
use ledger::tickets::TicketTx;
use ledger::{ExecError, Ledger, Transaction, TxReceipt};
use mpt_refcount::NodeStore;
use primitives::{Address, H256, U256};

/// The first byte of an Ethereum transaction's body.
pub const ETH_MARKER: u8 = 0xee;
/// The first byte of a ticket broker transaction's body.
pub const TICKET_MARKER: u8 = 0xef;

/// A decoded transaction body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeTx {
    /// A Theta transaction.
    Theta(Box<Transaction>),
    /// An Ethereum transfer (sender recovered at decode).
    Eth(Box<EthTransaction>),
    /// A ticket broker operation (signature checked at execution).
    Ticket(Box<TicketTx>),
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
    /// Not a ticket transaction.
    #[error("ticket transaction: {0}")]
    Ticket(ledger::Error),
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
            Some((&TICKET_MARKER, raw)) => {
                let limit = limit.saturating_sub(1);
                Ok(NodeTx::Ticket(Box::new(TicketTx::decode(raw, limit).map_err(BodyError::Ticket)?)))
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

    /// The body of a ticket transaction.
    pub fn ticket_body(tx: &TicketTx) -> Vec<u8> {
        let mut b = vec![TICKET_MARKER];
        b.extend_from_slice(&tx.encode());
        b
    }

    /// The account whose sequence it uses, and that sequence.
    pub fn sequence(&self) -> Option<(Address, u64)> {
        match self {
            NodeTx::Theta(t) => crate::service::sequence_of(t),
            NodeTx::Eth(t) => t.theta_sequence().map(|s| (t.from, s)),
            NodeTx::Ticket(t) => Some((t.input.address, t.input.sequence)),
        }
    }

    /// Its hash: Theta's transaction id, or the Ethereum hash a wallet computes.
    pub fn hash(&self, chain_id: &str) -> Result<H256, ledger::Error> {
        match self {
            NodeTx::Theta(t) => t.id(chain_id),
            NodeTx::Eth(t) => Ok(t.hash),
            NodeTx::Ticket(t) => Ok(t.id(chain_id)),
        }
    }

    /// The fee it pays (mempool priority).
    pub fn fee(&self, ledger_fee: U256) -> U256 {
        match self {
            NodeTx::Theta(t) => crate::service::fee_of(t),
            NodeTx::Eth(_) => ledger_fee,
            NodeTx::Ticket(t) => t.fee.tfuel_wei,
        }
    }

    /// Whether it would execute on `ledger` now (what a mempool asks).
    pub fn check<S: NodeStore>(&self, ledger: &Ledger<S>) -> Result<TxReceipt, ExecError> {
        match self {
            NodeTx::Theta(t) => ledger.check_tx(t),
            NodeTx::Eth(t) => ledger.check_eth(t),
            NodeTx::Ticket(t) => ledger.check_ticket(t),
        }
    }

    /// Applies it to `ledger`'s open block.
    pub fn apply<S: NodeStore>(&self, ledger: &mut Ledger<S>) -> Result<TxReceipt, ExecError> {
        match self {
            NodeTx::Theta(t) => ledger.apply_tx(t).cloned(),
            NodeTx::Eth(t) => ledger.apply_eth(t).cloned(),
            NodeTx::Ticket(t) => ledger.apply_ticket(t).cloned(),
        }
    }

    /// Whether it moves coins from one account to another (a Send or an Ethereum
    /// transfer).
    pub fn is_transfer(&self) -> bool {
        match self {
            NodeTx::Theta(t) => matches!(**t, Transaction::Send(_)),
            NodeTx::Eth(_) => true,
            NodeTx::Ticket(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::tickets::TicketOp;
    use ledger::{Coins, TxInput};
    use primitives::SecretKey;

    fn fund() -> TicketTx {
        let key = SecretKey::from_bytes([4; 32]).unwrap();
        let deposit = U256::from(1_000u64);
        let mut t = TicketTx {
            fee: Coins::new(U256::zero(), U256::from(100u64)),
            input: TxInput::new(key.address(), Coins::new(U256::zero(), deposit), 3),
            op: TicketOp::Fund { deposit },
        };
        t.sign("privatenet", &key).unwrap();
        t
    }

    #[test]
    fn a_ticket_body_round_trips_and_names_its_signer_and_sequence() {
        let t = fund();
        let body = NodeTx::ticket_body(&t);
        assert_eq!(body[0], TICKET_MARKER);
        let tx = NodeTx::decode(&body, 4096).unwrap();
        assert_eq!(tx, NodeTx::Ticket(Box::new(t.clone())));
        assert_eq!(tx.sequence(), Some((t.input.address, 3)));
        assert_eq!(tx.hash("privatenet").unwrap(), t.id("privatenet"));
        assert_eq!(tx.fee(U256::zero()), U256::from(100u64));
        assert!(!tx.is_transfer());
    }

    #[test]
    fn malformed_or_oversized_ticket_bodies_are_refused() {
        let body = NodeTx::ticket_body(&fund());
        assert!(matches!(NodeTx::decode(&body[..body.len() - 1], 4096), Err(BodyError::Ticket(_))));
        assert!(matches!(NodeTx::decode(&body, body.len() - 1), Err(BodyError::Ticket(_))));
        assert!(matches!(NodeTx::decode(&[TICKET_MARKER], 4096), Err(BodyError::Ticket(_))));
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(NodeTx::decode(&trailing, 4096).is_err());
    }
}
