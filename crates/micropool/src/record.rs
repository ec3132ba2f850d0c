//! The on-chain reserve record (Theta's `ReservedFund`), its state key and encoding.

use primitives::rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};
use primitives::{Address, H256, U256, keccak256_concat};

use crate::cheque::{ResourceId, decode_canonical};
use crate::error::Error;

/// What a reserve has paid one payee so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRecord {
    /// The payee.
    pub target: Address,
    /// Payment sequence of the newest settled cheque.
    pub payment_seq: u64,
    /// Cumulative amount the settled cheques promised this payee.
    pub promised: U256,
    /// What the payee actually received (less than `promised` only after an overspend
    /// exhausted the deposit).
    pub paid: U256,
}

/// A reserve: the deposit that pays cheques and the collateral that backs them.
///
/// Stored under [`reserve_key`]`(source, reserve_seq)` as its canonical RLP
/// ([`ReservedFund::encode`]); the payee reads it back through a Merkle proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedFund {
    /// The viewer who reserved it.
    pub source: Address,
    /// The source's reserve sequence number.
    pub reserve_seq: u64,
    /// The resources cheques may pay for.
    pub resource_ids: Vec<ResourceId>,
    /// The initial deposit.
    pub deposit: U256,
    /// Collateral still held. Once slashed, what is left of the compensation pool:
    /// the part of the collateral that pays payees the deposit shorted before the rest
    /// is slashed at release.
    pub collateral: U256,
    /// Deposit paid out so far.
    pub used: U256,
    /// Last height at which payments settle.
    pub end_height: u64,
    /// Whether an overspend was proven (the penalty part of the collateral is gone; the
    /// deposit and compensation pool left are slashed at release).
    pub slashed: bool,
    /// Who proved the overspend (the zero address when not slashed).
    pub reporter: Address,
    /// One record per payee, sorted by target.
    pub transfers: Vec<TransferRecord>,
    /// Least cumulative amount of a payee's first settlement
    /// ([`PoolConfig::slot_unit`](crate::PoolConfig::slot_unit) at reserve time).
    pub slot_unit: U256,
}

/// Longest encoded [`ReservedFund`] accepted from a proof.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// The state key of a reserve: keccak256(source ‖ reserve_seq as 8 big-endian bytes).
pub fn reserve_key(source: &Address, reserve_seq: u64) -> H256 {
    keccak256_concat([source.as_bytes(), &reserve_seq.to_be_bytes()])
}

impl ReservedFund {
    /// Deposit not yet paid out.
    pub fn remaining(&self) -> U256 {
        self.deposit.saturating_sub(self.used)
    }

    /// The record of `target`, if it was ever paid.
    pub fn transfer(&self, target: &Address) -> Option<&TransferRecord> {
        self.transfers.binary_search_by(|t| t.target.cmp(target)).ok().map(|i| &self.transfers[i])
    }

    /// What a settlement can still draw on: the deposit left, plus, once slashed, the
    /// compensation pool left.
    pub fn payable(&self) -> U256 {
        if self.slashed { self.remaining().saturating_add(self.collateral) } else { self.remaining() }
    }

    /// How many payees this record holds at most under `max_payees` (the chain's current
    /// [`PoolConfig::max_payees`](crate::PoolConfig::max_payees)): at least
    /// `floor(deposit / slot_unit)`, the slots its slot unit promised when it was made,
    /// so a later lower limit cannot lock out a payee whose cheque is within the deposit.
    ///
    /// With at least that many slots, every slot promising at least a slot unit, a full
    /// record met by a new cheque of at least a slot unit always proves an overspend.
    pub fn slot_limit(&self, max_payees: usize) -> usize {
        let promised = self.deposit / self.slot_unit.max(U256::one());
        let promised = if promised > U256::from(usize::MAX) { usize::MAX } else { promised.as_usize() };
        promised.max(max_payees)
    }

    /// Sum of what the settled cheques promised, over all payees (saturating).
    pub fn promised_total(&self) -> U256 {
        self.transfers.iter().fold(U256::zero(), |a, t| a.saturating_add(t.promised))
    }

    /// Funds locked in the record: remaining deposit plus collateral.
    pub fn locked(&self) -> U256 {
        self.remaining().saturating_add(self.collateral)
    }

    /// The record's state key.
    pub fn key(&self) -> H256 {
        reserve_key(&self.source, self.reserve_seq)
    }

    /// Canonical RLP bytes (the value stored in the state trie).
    pub fn encode(&self) -> Vec<u8> {
        primitives::rlp::encode(self).to_vec()
    }

    /// Decodes a record from untrusted bytes (a proof's value).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        decode_canonical(bytes, MAX_RECORD_BYTES, "reserve record")
    }
}

impl Encodable for TransferRecord {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(4)
            .append(&self.target)
            .append(&self.payment_seq)
            .append(&self.promised)
            .append(&self.paid);
    }
}

impl Decodable for TransferRecord {
    fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
        if r.item_count()? != 4 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(TransferRecord {
            target: r.val_at(0)?,
            payment_seq: r.val_at(1)?,
            promised: r.val_at(2)?,
            paid: r.val_at(3)?,
        })
    }
}

impl Encodable for ReservedFund {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(11);
        s.append(&self.source).append(&self.reserve_seq);
        s.append_list(&self.resource_ids);
        s.append(&self.deposit).append(&self.collateral).append(&self.used).append(&self.end_height);
        s.append(&self.slashed).append(&self.reporter);
        s.append_list(&self.transfers);
        s.append(&self.slot_unit);
    }
}

impl Decodable for ReservedFund {
    fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
        if r.item_count()? != 11 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let transfers: Vec<TransferRecord> = r.list_at(9)?;
        if !transfers.windows(2).all(|w| w[0].target < w[1].target) {
            return Err(DecoderError::Custom("transfer records not sorted by target"));
        }
        Ok(ReservedFund {
            source: r.val_at(0)?,
            reserve_seq: r.val_at(1)?,
            resource_ids: r.list_at(2)?,
            deposit: r.val_at(3)?,
            collateral: r.val_at(4)?,
            used: r.val_at(5)?,
            end_height: r.val_at(6)?,
            slashed: r.val_at(7)?,
            reporter: r.val_at(8)?,
            transfers,
            slot_unit: r.val_at(10)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_canonically() {
        let rec = ReservedFund {
            source: Address::repeat_byte(1),
            reserve_seq: 4,
            resource_ids: vec![crate::resource_id("a"), crate::resource_id("b")],
            deposit: U256::from(100u64),
            collateral: U256::from(101u64),
            used: U256::from(30u64),
            end_height: 900,
            slashed: false,
            reporter: Address::zero(),
            transfers: vec![TransferRecord {
                target: Address::repeat_byte(2),
                payment_seq: 2,
                promised: U256::from(30u64),
                paid: U256::from(30u64),
            }],
            slot_unit: U256::one(),
        };
        let bytes = rec.encode();
        assert_eq!(ReservedFund::decode(&bytes).unwrap(), rec);
        assert_eq!(rec.remaining(), U256::from(70u64));
        assert_eq!(rec.locked(), U256::from(171u64));
        assert!(rec.transfer(&Address::repeat_byte(2)).is_some());
        assert!(rec.transfer(&Address::repeat_byte(3)).is_none());
        assert_ne!(reserve_key(&rec.source, 4), reserve_key(&rec.source, 5));

        let mut unsorted = rec.clone();
        let t = unsorted.transfers[0].clone();
        unsorted.transfers.insert(0, t);
        assert!(matches!(ReservedFund::decode(&unsorted.encode()), Err(Error::Decode { .. })));
    }
}
