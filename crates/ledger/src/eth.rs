//! Ethereum transactions as standard wallets sign them, so MetaMask, web3.py, ethers and
//! Foundry's `cast` can move TFUEL on this ledger (issue 16).
//!
//! Decoded here: **legacy** transactions without a chain id (`v ∈ {27, 28}`), **EIP-155**
//! legacy transactions (`v = 2·chain_id + 35 + y`), and **EIP-1559** typed transactions
//! (`0x02 ‖ RLP([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas, to,
//! value, data, access_list, y_parity, r, s])`). EIP-2930 (type 1), blob (type 3) and
//! set-code (type 4) transactions are refused with [`EthTxError::UnsupportedType`].
//!
//! The decoder takes untrusted bytes: it enforces a size limit, accepts only canonical
//! RLP (one item, no trailing bytes, minimal integers) and canonical signatures (`0 < r,
//! s < n`, low `s` as EIP-2 requires), and never panics. The sender is recovered from the
//! signature over the transaction's signing hash; the transaction hash is keccak256 of
//! the raw bytes, as every Ethereum client computes it.
//!
//! **How it maps onto the ledger** (documented for the node's `eth_sendRawTransaction`):
//! `value` is TFUEL wei sent to `to` (a Send with one input and one output); the Ethereum
//! nonce `n` is the sender's Theta sequence `n + 1` (Theta counts sequences from 1, an
//! Ethereum wallet counts nonces from 0, so both see the next number the account
//! expects); the fee the ledger charges must be at most [`EthTransaction::max_fee`]
//! (`gas · gas_price`, or `gas · max_fee_per_gas`); the chain id must match the node's.

use primitives::rlp::{self, Rlp, RlpStream};
use primitives::{Address, H256, Signature, U256, keccak256};

/// Largest raw Ethereum transaction accepted (128 KiB, go-ethereum's pool limit).
pub const MAX_ETH_TX_BYTES: usize = 128 * 1024;

/// Most access-list entries accepted (the ledger ignores access lists; bounded work).
pub const MAX_ACCESS_LIST: usize = 1024;

/// Which encoding a transaction used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EthTxKind {
    /// Legacy, signed without a chain id (replayable across chains).
    Legacy,
    /// Legacy with an EIP-155 chain id.
    Eip155,
    /// EIP-1559 (type 2).
    Eip1559,
}

/// Why bytes are not an acceptable Ethereum transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EthTxError {
    /// More bytes than [`MAX_ETH_TX_BYTES`].
    #[error("transaction of {len} bytes over the limit {limit}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Empty input.
    #[error("empty transaction")]
    Empty,
    /// A typed transaction of a type this ledger does not accept.
    #[error("unsupported transaction type {0:#04x}")]
    UnsupportedType(u8),
    /// The RLP is malformed or not canonical.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// A field is out of its range (a gas limit over 64 bits, a `v` of no known form).
    #[error("field {field}: {reason}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The signature is not canonical or recovers no key.
    #[error("bad signature: {0}")]
    BadSignature(String),
}

/// A decoded Ethereum transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthTransaction {
    /// Its encoding.
    pub kind: EthTxKind,
    /// The chain id it was signed for (`None` for pre-EIP-155 legacy).
    pub chain_id: Option<u64>,
    /// The sender's nonce.
    pub nonce: u64,
    /// Legacy gas price, or the EIP-1559 max fee per gas.
    pub max_fee_per_gas: U256,
    /// EIP-1559 priority fee per gas (`None` for legacy).
    pub max_priority_fee_per_gas: Option<U256>,
    /// Gas limit.
    pub gas: u64,
    /// Recipient (`None`: contract creation).
    pub to: Option<Address>,
    /// Value in wei.
    pub value: U256,
    /// Call data.
    pub data: Vec<u8>,
    /// Number of access-list entries (EIP-1559).
    pub access_list_len: usize,
    /// The recovered sender.
    pub from: Address,
    /// keccak256 of the raw bytes.
    pub hash: H256,
}

fn malformed(e: rlp::DecoderError) -> EthTxError {
    EthTxError::Malformed(e.to_string())
}

fn u64_field(r: &Rlp<'_>, i: usize, field: &'static str) -> Result<u64, EthTxError> {
    let v: U256 = r.val_at(i).map_err(malformed)?;
    if v > U256::from(u64::MAX) {
        return Err(EthTxError::BadField { field, reason: "over 64 bits" });
    }
    Ok(v.as_u64())
}

fn to_field(r: &Rlp<'_>, i: usize) -> Result<Option<Address>, EthTxError> {
    let item = r.at(i).map_err(malformed)?;
    if !item.is_data() {
        return Err(EthTxError::BadField { field: "to", reason: "not a byte string" });
    }
    let bytes = item.data().map_err(malformed)?;
    match bytes.len() {
        0 => Ok(None),
        20 => Ok(Some(Address::from_slice(bytes))),
        _ => Err(EthTxError::BadField { field: "to", reason: "not 20 bytes" }),
    }
}

fn data_field(r: &Rlp<'_>, i: usize) -> Result<Vec<u8>, EthTxError> {
    let item = r.at(i).map_err(malformed)?;
    if !item.is_data() {
        return Err(EthTxError::BadField { field: "data", reason: "not a byte string" });
    }
    Ok(item.data().map_err(malformed)?.to_vec())
}

/// Checks that `raw` is exactly one RLP list of `fields` items.
fn outer_list(raw: &[u8], fields: usize) -> Result<Rlp<'_>, EthTxError> {
    let r = Rlp::new(raw);
    let info = r.payload_info().map_err(malformed)?;
    if info.header_len + info.value_len != raw.len() {
        return Err(EthTxError::Malformed("trailing bytes after the transaction".into()));
    }
    if !r.is_list() {
        return Err(EthTxError::Malformed("not a list".into()));
    }
    let n = r.item_count().map_err(malformed)?;
    if n != fields {
        return Err(EthTxError::Malformed(format!("{n} fields, expected {fields}")));
    }
    Ok(r)
}

/// Recovers the sender of `digest` from `(r, s, y)`, with canonical checks.
fn recover(digest: &H256, r: U256, s: U256, y: u8) -> Result<Address, EthTxError> {
    let mut sig = [0u8; 65];
    sig[..32].copy_from_slice(&r.to_big_endian());
    sig[32..64].copy_from_slice(&s.to_big_endian());
    sig[64] = 27 + y;
    let sig = Signature::from_bytes(&sig).map_err(|e| EthTxError::BadSignature(e.to_string()))?;
    sig.recover(digest).map_err(|e| EthTxError::BadSignature(e.to_string()))
}

fn sig_scalar(r: &Rlp<'_>, i: usize, field: &'static str) -> Result<U256, EthTxError> {
    let item = r.at(i).map_err(malformed)?;
    if item.data().map_err(malformed)?.len() > 32 {
        return Err(EthTxError::BadField { field, reason: "over 32 bytes" });
    }
    item.as_val().map_err(malformed)
}

impl EthTransaction {
    /// Decodes and verifies raw transaction bytes (as `eth_sendRawTransaction` receives
    /// them). See the module docs for what is accepted.
    pub fn decode(raw: &[u8]) -> Result<Self, EthTxError> {
        if raw.len() > MAX_ETH_TX_BYTES {
            return Err(EthTxError::TooLarge { len: raw.len(), limit: MAX_ETH_TX_BYTES });
        }
        let first = *raw.first().ok_or(EthTxError::Empty)?;
        match first {
            0x02 => Self::decode_1559(raw),
            0xc0..=0xff => Self::decode_legacy(raw),
            t if t <= 0x7f => Err(EthTxError::UnsupportedType(t)),
            _ => Err(EthTxError::Malformed("neither a typed transaction nor an RLP list".into())),
        }
    }

    fn decode_legacy(raw: &[u8]) -> Result<Self, EthTxError> {
        let r = outer_list(raw, 9)?;
        let nonce = u64_field(&r, 0, "nonce")?;
        let gas_price: U256 = r.val_at(1).map_err(malformed)?;
        let gas = u64_field(&r, 2, "gas")?;
        let to = to_field(&r, 3)?;
        let value: U256 = r.val_at(4).map_err(malformed)?;
        let data = data_field(&r, 5)?;
        let v = u64_field(&r, 6, "v")?;
        let sr = sig_scalar(&r, 7, "r")?;
        let ss = sig_scalar(&r, 8, "s")?;
        let (kind, chain_id, y) = match v {
            27 | 28 => (EthTxKind::Legacy, None, (v - 27) as u8),
            v if v >= 37 => (EthTxKind::Eip155, Some((v - 35) / 2), ((v - 35) % 2) as u8),
            _ => {
                return Err(EthTxError::BadField {
                    field: "v",
                    reason: "neither 27/28 nor an EIP-155 value",
                });
            }
        };
        let mut s = RlpStream::new_list(if chain_id.is_some() { 9 } else { 6 });
        for i in 0..6 {
            s.append_raw(r.at(i).map_err(malformed)?.as_raw(), 1);
        }
        if let Some(id) = chain_id {
            s.append(&id);
            s.append_empty_data();
            s.append_empty_data();
        }
        let digest = keccak256(s.out());
        let from = recover(&digest, sr, ss, y)?;
        Ok(Self {
            kind,
            chain_id,
            nonce,
            max_fee_per_gas: gas_price,
            max_priority_fee_per_gas: None,
            gas,
            to,
            value,
            data,
            access_list_len: 0,
            from,
            hash: keccak256(raw),
        })
    }

    fn decode_1559(raw: &[u8]) -> Result<Self, EthTxError> {
        let body = &raw[1..];
        let r = outer_list(body, 12)?;
        let chain_id = u64_field(&r, 0, "chain_id")?;
        let nonce = u64_field(&r, 1, "nonce")?;
        let priority: U256 = r.val_at(2).map_err(malformed)?;
        let max_fee: U256 = r.val_at(3).map_err(malformed)?;
        let gas = u64_field(&r, 4, "gas")?;
        let to = to_field(&r, 5)?;
        let value: U256 = r.val_at(6).map_err(malformed)?;
        let data = data_field(&r, 7)?;
        let access = r.at(8).map_err(malformed)?;
        if !access.is_list() {
            return Err(EthTxError::BadField { field: "access_list", reason: "not a list" });
        }
        let access_list_len = access.item_count().map_err(malformed)?;
        if access_list_len > MAX_ACCESS_LIST {
            return Err(EthTxError::BadField { field: "access_list", reason: "too many entries" });
        }
        for entry in access.iter() {
            let ok = entry.is_list()
                && entry.item_count().ok() == Some(2)
                && entry.at(0).and_then(|a| a.data().map(<[u8]>::len)).ok() == Some(20)
                && entry
                    .at(1)
                    .map(|k| k.is_list() && k.iter().all(|key| key.data().map(<[u8]>::len).ok() == Some(32)))
                    .unwrap_or(false);
            if !ok {
                return Err(EthTxError::BadField {
                    field: "access_list",
                    reason: "entry is not [address, [storage keys]]",
                });
            }
        }
        let y = u64_field(&r, 9, "y_parity")?;
        if y > 1 {
            return Err(EthTxError::BadField { field: "y_parity", reason: "not 0 or 1" });
        }
        if priority > max_fee {
            return Err(EthTxError::BadField {
                field: "max_priority_fee_per_gas",
                reason: "above max_fee_per_gas",
            });
        }
        let sr = sig_scalar(&r, 10, "r")?;
        let ss = sig_scalar(&r, 11, "s")?;
        let mut s = RlpStream::new_list(9);
        for i in 0..9 {
            s.append_raw(r.at(i).map_err(malformed)?.as_raw(), 1);
        }
        let mut pre = Vec::with_capacity(1 + body.len());
        pre.push(0x02);
        pre.extend_from_slice(&s.out());
        let from = recover(&keccak256(&pre), sr, ss, y as u8)?;
        Ok(Self {
            kind: EthTxKind::Eip1559,
            chain_id: Some(chain_id),
            nonce,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: Some(priority),
            gas,
            to,
            value,
            data,
            access_list_len,
            from,
            hash: keccak256(raw),
        })
    }

    /// The most the sender agreed to pay: `gas · max_fee_per_gas` (`None` on overflow).
    pub fn max_fee(&self) -> Option<U256> {
        self.max_fee_per_gas.checked_mul(U256::from(self.gas))
    }

    /// The Theta sequence this transaction uses: the Ethereum nonce plus one (Theta's
    /// first sequence is 1, an Ethereum wallet's first nonce is 0).
    pub fn theta_sequence(&self) -> Option<u64> {
        self.nonce.checked_add(1)
    }
}
