//! The ledger state in the trie: readable keys, the records stored under them, and a
//! view with pending writes.
//!
//! Keys follow Theta's `ledger/state/keys.go` where Theta has one (`ls/a/` accounts,
//! `chainid`); Theta keeps each stake pool as one value (`ls/vcp`, `ls/gcp`), here every
//! holder has its own leaf under the pool's prefix (`ls/vcp/<holder>`, `ls/gcp/<holder>`),
//! so pools enumerate by prefix and a deposit rewrites one holder, not the whole pool.
//!
//! | key | value |
//! |---|---|
//! | `chainid` | the chain id (UTF-8) |
//! | `ls/height` | height of the last executed block, 8 bytes big-endian |
//! | `ls/supply` | [`Supply`] |
//! | `ls/a/<address 20>` | [`Account`] |
//! | `ls/vcp/<holder 20>` | [`StakeHolder`] of a validator candidate |
//! | `ls/gcp/<holder 20>` | [`StakeHolder`] of a guardian |
//! | `ls/bls/<purpose 1><bls key 48>` | the holder owning that BLS key in that pool (20 bytes) |
//! | `ls/srk/<height 8><purpose 1><holder 20><source 20>` | `0x01`: a withdrawn stake due back at `height` |
//! | `ls/rf/<source 20><reserve seq 8>` | a `micropool::ReservedFund` |
//! | `ls/rs/<source 20>` | the source's last reserve sequence, 8 bytes big-endian |
//!
//! Values are canonical RLP (integers minimal, addresses 20 bytes); an empty value is no
//! value (the trie's rule), so an account with sequence 0 and no coins is absent.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use mpt_refcount::codec::{ChildRef, DecodedNode, decode_node};
use mpt_refcount::{NodeStore, Trie};
use primitives::rlp::{Rlp, RlpStream};
use primitives::{Address, H256, U256};

use crate::error::ExecError;
use crate::tx::{BLS_PUBKEY_LEN, Coins};

/// Prefix of account keys (Theta's `ls/a/`).
pub const ACCOUNT_PREFIX: &[u8] = b"ls/a/";
/// Prefix of validator candidate keys.
pub const VALIDATOR_PREFIX: &[u8] = b"ls/vcp/";
/// Prefix of guardian keys.
pub const GUARDIAN_PREFIX: &[u8] = b"ls/gcp/";
/// Prefix of the BLS key index (duplicate keys are refused per pool).
pub const BLS_KEY_PREFIX: &[u8] = b"ls/bls/";
/// Prefix of the stake return schedule, ordered by return height.
pub const STAKE_RETURN_PREFIX: &[u8] = b"ls/srk/";
/// Prefix of micropayment reserves.
pub const RESERVE_PREFIX: &[u8] = b"ls/rf/";
/// Prefix of the last reserve sequence per source.
pub const RESERVE_SEQ_PREFIX: &[u8] = b"ls/rs/";
/// Key of the supply record.
pub const SUPPLY_KEY: &[u8] = b"ls/supply";
/// Split rules by resource id (`ls/ssc/split/<keccak256(resource id)>`; Theta's prefix).
pub const SPLIT_RULE_PREFIX: &[u8] = b"ls/ssc/split/";
/// Stake reward distribution rules by stake holder (`ls/srd/<holder>`).
pub const REWARD_DISTRIBUTION_PREFIX: &[u8] = b"ls/srd/";
/// Offences already slashed (`ls/sx/<evidence key>`), so evidence cannot slash twice.
pub const SLASHED_PREFIX: &[u8] = b"ls/sx/";
/// Key of the last executed height.
pub const HEIGHT_KEY: &[u8] = b"ls/height";
/// Key of the chain id (Theta's `chainid`).
pub const CHAIN_ID_KEY: &[u8] = b"chainid";

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// The key of `address`'s account.
pub fn account_key(address: &Address) -> Vec<u8> {
    concat(&[ACCOUNT_PREFIX, address.as_bytes()])
}

/// The key of a holder's record in the pool of `purpose` (`None` for a purpose without
/// a pool).
pub fn holder_key(purpose: u8, holder: &Address) -> Option<Vec<u8>> {
    Some(concat(&[pool_prefix(purpose)?, holder.as_bytes()]))
}

/// The prefix of the pool of `purpose` (validator 0, guardian 1).
pub fn pool_prefix(purpose: u8) -> Option<&'static [u8]> {
    match purpose {
        crate::tx::STAKE_FOR_VALIDATOR => Some(VALIDATOR_PREFIX),
        crate::tx::STAKE_FOR_GUARDIAN => Some(GUARDIAN_PREFIX),
        _ => None,
    }
}

/// The key of the BLS key index entry of `key` in the pool of `purpose`.
pub fn bls_index_key(purpose: u8, key: &[u8; BLS_PUBKEY_LEN]) -> Vec<u8> {
    concat(&[BLS_KEY_PREFIX, &[purpose], key])
}

/// The key of a scheduled stake return.
pub fn stake_return_key(height: u64, purpose: u8, holder: &Address, source: &Address) -> Vec<u8> {
    concat(&[STAKE_RETURN_PREFIX, &height.to_be_bytes(), &[purpose], holder.as_bytes(), source.as_bytes()])
}

/// The key of reserve `(source, reserve_seq)`.
pub fn reserve_key(source: &Address, reserve_seq: u64) -> Vec<u8> {
    concat(&[RESERVE_PREFIX, source.as_bytes(), &reserve_seq.to_be_bytes()])
}

/// The key of `source`'s last reserve sequence.
pub fn reserve_seq_key(source: &Address) -> Vec<u8> {
    concat(&[RESERVE_SEQ_PREFIX, source.as_bytes()])
}

/// The split rule of `resource_id`: under `keccak256(resource_id)` (Theta keys it by the
/// id itself; a trie key is at most `mpt_refcount::MAX_KEY_BYTES`, an id is any length).
pub fn split_rule_key(resource_id: &str) -> Vec<u8> {
    concat(&[SPLIT_RULE_PREFIX, primitives::keccak256(resource_id.as_bytes()).as_bytes()])
}

/// The reward distribution rule of stake holder `holder`.
pub fn reward_distribution_key(holder: &Address) -> Vec<u8> {
    concat(&[REWARD_DISTRIBUTION_PREFIX, holder.as_bytes()])
}

/// A stake reward distribution rule (Theta's `core.RewardDistribution`): the part of the
/// holder's guardian rewards, in basis points, paid to a beneficiary (the node
/// operator's fee, for instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewardDistribution {
    /// The beneficiary.
    pub beneficiary: Address,
    /// Its share, basis points (1..=1 000 as set by a transaction).
    pub split_basis_point: u64,
}

impl RewardDistribution {
    /// `RLP([beneficiary, split_basis_point])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(2);
        s.append(&self.beneficiary.as_bytes());
        s.append(&self.split_basis_point);
        s.out().to_vec()
    }

    /// Decodes a stored rule.
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ExecError> {
        let err = |e: primitives::rlp::DecoderError| corrupt(key, e.to_string());
        let r = Rlp::new(bytes);
        if r.item_count().map_err(err)? != 2 {
            return Err(corrupt(key, "reward distribution: expected 2 items"));
        }
        let out = RewardDistribution {
            beneficiary: address_item(key, &r.at(0).map_err(err)?)?,
            split_basis_point: r.val_at(1).map_err(err)?,
        };
        if out.encode() != bytes {
            return Err(corrupt(key, "reward distribution: non-canonical encoding"));
        }
        Ok(out)
    }
}

/// The marker of an offence slashed under `evidence_key`
/// ([`crate::slashing::SlashOrder::evidence_key`]).
pub fn slashed_key(evidence_key: &H256) -> Vec<u8> {
    concat(&[SLASHED_PREFIX, evidence_key.as_bytes()])
}

/// Decodes a stored reserve record (micropool's RLP) under `key`.
pub(crate) fn decode_reserve(key: &[u8], bytes: &[u8]) -> Result<micropool::ReservedFund, ExecError> {
    micropool::ReservedFund::decode(bytes).map_err(|e| corrupt(key, e.to_string()))
}

fn corrupt(key: &[u8], reason: impl Into<String>) -> ExecError {
    ExecError::CorruptState { key: String::from_utf8_lossy(key).into_owned(), reason: reason.into() }
}

fn rlp_u256(r: &Rlp<'_>) -> Result<U256, primitives::rlp::DecoderError> {
    r.as_val::<U256>()
}

/// An account: its sequence (the number of transactions it signed) and its balance in
/// both coins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account {
    /// The last sequence used; a transaction from this account carries `sequence + 1`.
    pub sequence: u64,
    /// THETA and TFUEL, in wei.
    pub coins: Coins,
}

impl Account {
    /// `RLP([sequence, [theta_wei, tfuel_wei]])`; empty for the default account.
    pub fn encode(&self) -> Vec<u8> {
        if *self == Account::default() {
            return Vec::new();
        }
        let mut s = RlpStream::new_list(2);
        s.append(&self.sequence);
        s.begin_list(2);
        s.append(&self.coins.theta_wei);
        s.append(&self.coins.tfuel_wei);
        s.out().to_vec()
    }

    /// Decodes a stored account value.
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ExecError> {
        let err = |e: primitives::rlp::DecoderError| corrupt(key, e.to_string());
        let r = Rlp::new(bytes);
        if r.item_count().map_err(err)? != 2 {
            return Err(corrupt(key, "account: expected 2 items"));
        }
        let c = r.at(1).map_err(err)?;
        if c.item_count().map_err(err)? != 2 {
            return Err(corrupt(key, "account coins: expected 2 items"));
        }
        let acc = Account {
            sequence: r.val_at(0).map_err(err)?,
            coins: Coins {
                theta_wei: rlp_u256(&c.at(0).map_err(err)?).map_err(err)?,
                tfuel_wei: rlp_u256(&c.at(1).map_err(err)?).map_err(err)?,
            },
        };
        if acc.encode() != bytes {
            return Err(corrupt(key, "account: non-canonical encoding"));
        }
        Ok(acc)
    }
}

/// One source's stake in a holder (Theta's `core.Stake`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stake {
    /// Who deposited it and gets it back.
    pub source: Address,
    /// THETA wei.
    pub amount: U256,
    /// Whether a withdrawal is pending (the stake no longer counts).
    pub withdrawn: bool,
    /// When a withdrawn stake is returned (`u64::MAX` while not withdrawn, as in Theta).
    pub return_height: u64,
}

/// A validator candidate or guardian with its stakes (Theta's `core.StakeHolder`, plus
/// the holder's BLS key, checked and stored at its first deposit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StakeHolder {
    /// The holder.
    pub holder: Address,
    /// Its BLS public key (compressed G1), PoP-checked when stored.
    pub bls_pubkey: [u8; BLS_PUBKEY_LEN],
    /// Stakes in deposit order, at most one per source.
    pub stakes: Vec<Stake>,
}

impl StakeHolder {
    /// The stake that counts: every stake not withdrawn (checked sum).
    pub fn total_stake(&self) -> Result<U256, ExecError> {
        self.stakes
            .iter()
            .filter(|s| !s.withdrawn)
            .try_fold(U256::zero(), |a, s| a.checked_add(s.amount))
            .ok_or(ExecError::Overflow { what: "holder stake" })
    }

    /// Every stake, withdrawn or not (what the holder record locks; checked sum).
    pub fn locked(&self) -> Result<U256, ExecError> {
        self.stakes
            .iter()
            .try_fold(U256::zero(), |a, s| a.checked_add(s.amount))
            .ok_or(ExecError::Overflow { what: "holder locked stake" })
    }

    /// `RLP([holder, bls_pubkey, [[source, amount, withdrawn, return_height], …]])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(3);
        s.append(&self.holder.as_bytes());
        s.append(&self.bls_pubkey.as_slice());
        s.begin_list(self.stakes.len());
        for st in &self.stakes {
            s.begin_list(4);
            s.append(&st.source.as_bytes());
            s.append(&st.amount);
            s.append(&u8::from(st.withdrawn));
            s.append(&st.return_height);
        }
        s.out().to_vec()
    }

    /// Decodes a stored holder record.
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ExecError> {
        let err = |e: primitives::rlp::DecoderError| corrupt(key, e.to_string());
        let r = Rlp::new(bytes);
        if r.item_count().map_err(err)? != 3 {
            return Err(corrupt(key, "stake holder: expected 3 items"));
        }
        let holder = address_item(key, &r.at(0).map_err(err)?)?;
        let pk = r.at(1).map_err(err)?.data().map_err(err)?;
        let bls_pubkey =
            <[u8; BLS_PUBKEY_LEN]>::try_from(pk).map_err(|_| corrupt(key, "stake holder: BLS key length"))?;
        let list = r.at(2).map_err(err)?;
        let mut stakes = Vec::new();
        for item in list.iter() {
            if item.item_count().map_err(err)? != 4 {
                return Err(corrupt(key, "stake: expected 4 items"));
            }
            let withdrawn: u8 = item.val_at(2).map_err(err)?;
            stakes.push(Stake {
                source: address_item(key, &item.at(0).map_err(err)?)?,
                amount: rlp_u256(&item.at(1).map_err(err)?).map_err(err)?,
                withdrawn: withdrawn == 1,
                return_height: item.val_at(3).map_err(err)?,
            });
        }
        let out = StakeHolder { holder, bls_pubkey, stakes };
        if out.encode() != bytes {
            return Err(corrupt(key, "stake holder: non-canonical encoding"));
        }
        Ok(out)
    }
}

/// A split rule (Theta's `types.SplitRule`): payments for `resource_id` in blocks up to
/// `end_height + 1` send each split's percentage to its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRule {
    /// Who set it (only it may change it while it is in force).
    pub initiator: Address,
    /// The resource.
    pub resource_id: String,
    /// The shares (percentages summing to at most 100).
    pub splits: Vec<crate::tx::Split>,
    /// Theta's `EndBlockHeight`: the parent height of the rule's block plus its duration.
    pub end_height: u64,
}

impl SplitRule {
    /// Whether the rule applies in block `height` (Theta: the parent height is at most
    /// the end height).
    pub fn in_force_at(&self, height: u64) -> bool {
        height.saturating_sub(1) <= self.end_height
    }

    /// `RLP([initiator, resource_id, [[address, percentage], …], end_height])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(4);
        s.append(&self.initiator.as_bytes());
        s.append(&self.resource_id.as_bytes());
        s.begin_list(self.splits.len());
        for sp in &self.splits {
            s.begin_list(2);
            s.append(&sp.address.as_bytes());
            s.append(&sp.percentage);
        }
        s.append(&self.end_height);
        s.out().to_vec()
    }

    /// Decodes a stored split rule.
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Self, ExecError> {
        let err = |e: primitives::rlp::DecoderError| corrupt(key, e.to_string());
        let r = Rlp::new(bytes);
        if r.item_count().map_err(err)? != 4 {
            return Err(corrupt(key, "split rule: expected 4 items"));
        }
        let initiator = address_item(key, &r.at(0).map_err(err)?)?;
        let resource_id = String::from_utf8(r.at(1).map_err(err)?.data().map_err(err)?.to_vec())
            .map_err(|_| corrupt(key, "split rule: resource id not UTF-8"))?;
        let mut splits = Vec::new();
        for item in r.at(2).map_err(err)?.iter() {
            if item.item_count().map_err(err)? != 2 {
                return Err(corrupt(key, "split: expected 2 items"));
            }
            splits.push(crate::tx::Split {
                address: address_item(key, &item.at(0).map_err(err)?)?,
                percentage: item.val_at(1).map_err(err)?,
            });
        }
        let out = SplitRule { initiator, resource_id, splits, end_height: r.val_at(3).map_err(err)? };
        if out.encode() != bytes {
            return Err(corrupt(key, "split rule: non-canonical encoding"));
        }
        Ok(out)
    }
}

fn address_item(key: &[u8], r: &Rlp<'_>) -> Result<Address, ExecError> {
    let d = r.data().map_err(|e| corrupt(key, e.to_string()))?;
    if d.len() != 20 {
        return Err(corrupt(key, "address length"));
    }
    Ok(Address::from_slice(d))
}

/// Supply accounting: what genesis created and what left since (Theta burns fees).
///
/// Invariant (property-tested): for each coin, the sum of balances, stakes and funds
/// locked in reserves equals `genesis + issued − burned − slashed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Supply {
    /// Created at genesis.
    pub genesis: Coins,
    /// Created since (rewards; none until Coinbase is wired).
    pub issued: Coins,
    /// Destroyed as fees.
    pub burned: Coins,
    /// Destroyed by slashing (micropool overspend penalties that are burned).
    pub slashed: Coins,
}

impl Supply {
    /// `genesis + issued − burned − slashed`, checked.
    pub fn expected_total(&self) -> Option<Coins> {
        self.genesis.checked_add(&self.issued)?.checked_sub(&self.burned)?.checked_sub(&self.slashed)
    }

    /// `RLP([[genesis], [issued], [burned], [slashed]])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(4);
        for c in [&self.genesis, &self.issued, &self.burned, &self.slashed] {
            s.begin_list(2);
            s.append(&c.theta_wei);
            s.append(&c.tfuel_wei);
        }
        s.out().to_vec()
    }

    /// Decodes the stored record.
    pub fn decode(bytes: &[u8]) -> Result<Self, ExecError> {
        let err = |e: primitives::rlp::DecoderError| corrupt(SUPPLY_KEY, e.to_string());
        let r = Rlp::new(bytes);
        if r.item_count().map_err(err)? != 4 {
            return Err(corrupt(SUPPLY_KEY, "supply: expected 4 items"));
        }
        let mut c = [Coins::zero(); 4];
        for (i, slot) in c.iter_mut().enumerate() {
            let item = r.at(i).map_err(err)?;
            if item.item_count().map_err(err)? != 2 {
                return Err(corrupt(SUPPLY_KEY, "supply coins: expected 2 items"));
            }
            *slot = Coins {
                theta_wei: rlp_u256(&item.at(0).map_err(err)?).map_err(err)?,
                tfuel_wei: rlp_u256(&item.at(1).map_err(err)?).map_err(err)?,
            };
        }
        Ok(Supply { genesis: c[0], issued: c[1], burned: c[2], slashed: c[3] })
    }
}

/// Pending writes over a committed trie: `Some(value)` sets, `None` deletes.
pub(crate) type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A read view: the committed trie, the block's pending writes, and a transaction's own.
pub(crate) struct View<'a, S: NodeStore + ?Sized> {
    pub(crate) store: &'a S,
    pub(crate) trie: &'a Trie,
    pub(crate) block: &'a Writes,
    pub(crate) tx: Writes,
}

impl<'a, S: NodeStore + ?Sized> View<'a, S> {
    pub(crate) fn new(store: &'a S, trie: &'a Trie, block: &'a Writes) -> Self {
        View { store, trie, block, tx: Writes::new() }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ExecError> {
        if let Some(v) = self.tx.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block.get(key) {
            return Ok(v.clone());
        }
        Ok(self.trie.get(self.store, key)?)
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tx.insert(key, if value.is_empty() { None } else { Some(value) });
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.tx.insert(key, None);
    }

    /// The reserve record `(source, reserve_seq)`, if any.
    pub(crate) fn reserve(
        &self,
        source: &Address,
        reserve_seq: u64,
    ) -> Result<Option<micropool::ReservedFund>, ExecError> {
        let key = reserve_key(source, reserve_seq);
        self.get(&key)?.map(|v| decode_reserve(&key, &v)).transpose()
    }

    pub(crate) fn account(&self, address: &Address) -> Result<Account, ExecError> {
        let key = account_key(address);
        match self.get(&key)? {
            Some(v) => Account::decode(&key, &v),
            None => Ok(Account::default()),
        }
    }

    pub(crate) fn set_account(&mut self, address: &Address, acc: &Account) {
        self.put(account_key(address), acc.encode());
    }

    pub(crate) fn holder(&self, purpose: u8, holder: &Address) -> Result<Option<StakeHolder>, ExecError> {
        let Some(key) = holder_key(purpose, holder) else {
            return Ok(None);
        };
        match self.get(&key)? {
            Some(v) => StakeHolder::decode(&key, &v).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn set_holder(&mut self, purpose: u8, record: &StakeHolder) -> Result<(), ExecError> {
        let key = holder_key(purpose, &record.holder).ok_or(ExecError::UnsupportedPurpose { purpose })?;
        if record.stakes.is_empty() {
            self.delete(key);
        } else {
            self.put(key, record.encode());
        }
        Ok(())
    }

    pub(crate) fn supply(&self) -> Result<Supply, ExecError> {
        match self.get(SUPPLY_KEY)? {
            Some(v) => Supply::decode(&v),
            None => Ok(Supply::default()),
        }
    }

    pub(crate) fn set_supply(&mut self, s: &Supply) {
        self.put(SUPPLY_KEY.to_vec(), s.encode());
    }

    /// Adds `fee` to the burned total.
    pub(crate) fn burn(&mut self, fee: &Coins) -> Result<(), ExecError> {
        if fee.is_zero() {
            return Ok(());
        }
        let mut s = self.supply()?;
        s.burned = s.burned.checked_add(fee).ok_or(ExecError::Overflow { what: "burned supply" })?;
        self.set_supply(&s);
        Ok(())
    }

    /// Refuses a transaction whose writes the trie could not commit (a key over
    /// `mpt_refcount::MAX_KEY_BYTES` or a value over `MAX_VALUE_BYTES`): checked before
    /// the writes join the block, so such a transaction fails alone instead of failing
    /// the whole block at commit.
    pub(crate) fn check_limits(&self) -> Result<(), ExecError> {
        for (k, v) in &self.tx {
            let value_len = v.as_ref().map_or(0, Vec::len);
            if k.len() > mpt_refcount::MAX_KEY_BYTES || value_len > mpt_refcount::MAX_VALUE_BYTES {
                return Err(ExecError::StateLimit {
                    key: String::from_utf8_lossy(&k[..k.len().min(24)]).into_owned(),
                    key_len: k.len(),
                    value_len,
                });
            }
        }
        Ok(())
    }

    /// The transaction's writes.
    pub(crate) fn into_writes(self) -> Writes {
        self.tx
    }
}

/// Calls `f` with every committed `(key, value)` under `prefix` in `root`, in ascending
/// key order, until it breaks. Reads only the nodes on paths under the prefix (plus the
/// path down to it), so a pool enumerates without touching the accounts.
pub fn visit_prefix<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<(), ExecError> {
    if root == primitives::EMPTY_TRIE_ROOT {
        return Ok(());
    }
    let want = mpt_refcount::codec::to_nibbles(prefix);
    let mut path = Vec::with_capacity(128);
    let bytes =
        store.node(&root)?.ok_or(ExecError::Store(mpt_refcount::Error::MissingNode { hash: root }))?;
    walk(store, &bytes, &want, &mut path, &mut f).map(|_| ())
}

/// Whether the nibble path `path` and the prefix `want` are compatible (one is a prefix
/// of the other).
fn compatible(path: &[u8], want: &[u8]) -> bool {
    let n = path.len().min(want.len());
    path[..n] == want[..n]
}

fn walk<S: NodeStore + ?Sized>(
    store: &S,
    node: &[u8],
    want: &[u8],
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, ExecError> {
    if path.len() > 2 * mpt_refcount::MAX_KEY_BYTES {
        return Err(ExecError::Store(mpt_refcount::Error::InvalidNode { reason: "path too deep" }));
    }
    let base = path.len();
    let flow = match decode_node(node)? {
        DecodedNode::Leaf { path: p, value } => {
            path.extend(p.to_vec());
            emit(path, want, value, f)?
        }
        DecodedNode::Extension { path: p, child } => {
            path.extend(p.to_vec());
            if compatible(path, want) {
                walk_child(store, child, want, path, f)?
            } else {
                ControlFlow::Continue(())
            }
        }
        DecodedNode::Branch { children, value } => {
            let mut flow = match value {
                Some(v) => emit(path, want, v, f)?,
                None => ControlFlow::Continue(()),
            };
            for (i, c) in children.iter().enumerate() {
                if flow.is_break() {
                    break;
                }
                path.push(i as u8);
                if compatible(path, want) {
                    flow = walk_child(store, *c, want, path, f)?;
                }
                path.truncate(base);
            }
            flow
        }
    };
    path.truncate(base);
    Ok(flow)
}

fn walk_child<S: NodeStore + ?Sized>(
    store: &S,
    child: ChildRef<'_>,
    want: &[u8],
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, ExecError> {
    match child {
        ChildRef::Empty => Ok(ControlFlow::Continue(())),
        ChildRef::Inline(bytes) => walk(store, bytes, want, path, f),
        ChildRef::Hash(h) => {
            let bytes =
                store.node(&h)?.ok_or(ExecError::Store(mpt_refcount::Error::MissingNode { hash: h }))?;
            walk(store, &bytes, want, path, f)
        }
    }
}

fn emit(
    path: &[u8],
    want: &[u8],
    value: &[u8],
    f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, ExecError> {
    if path.len() < want.len() || path[..want.len()] != *want {
        return Ok(ControlFlow::Continue(()));
    }
    if path.len() % 2 == 1 {
        return Err(ExecError::Store(mpt_refcount::Error::InvalidNode {
            reason: "a value at an odd number of nibbles",
        }));
    }
    let key: Vec<u8> = path.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect();
    Ok(f(&key, value))
}
