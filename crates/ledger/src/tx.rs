//! Theta's twelve transaction types and their wire codec.
//!
//! Field orders follow Theta's Go structs (`ledger/types/tx.go`); the bytes are what
//! `types.TxToBytes` writes and `@thetalabs/theta-js` emits:
//! `RLP(type as an unsigned integer) ‖ RLP(struct)`, each struct an RLP list of its
//! fields in declaration order. `Coins` is `[theta_wei, tfuel_wei]`, a `TxInput` is
//! `[address, coins, sequence, signature]` and a `TxOutput` is `[address, coins]`;
//! integers are minimal big-endian byte strings (zero is the empty string `0x80`), an
//! empty signature is the empty string.
//!
//! Decoding takes untrusted bytes: an explicit size limit, exact item counts (Theta's
//! Go RLP decoder also refuses too few or too many struct fields), typed errors, and
//! canonical bytes only — the decoded value must re-encode to exactly the input, so one
//! transaction has one encoding and one id.

use primitives::rlp::{Rlp, RlpStream};
use primitives::{Address, Signature, U256};

use crate::error::Error;

/// The size limit of Theta's Go decoder (`maxTxSize`, 8 MiB). Callers that take
/// transactions from peers should pass something much smaller to [`Transaction::decode`].
pub const MAX_TX_SIZE: usize = 8 * 1024 * 1024;

/// Length of a BLS public key in a DepositStakeV2 (compressed G1).
pub const BLS_PUBKEY_LEN: usize = 48;
/// Length of a BLS proof of possession in a DepositStakeV2 (compressed G2).
pub const BLS_POP_LEN: usize = 96;

/// Theta's transaction type numbers (`ledger/types/serialization.go`, `TxType uint16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxType {
    /// Block reward (0).
    Coinbase = 0,
    /// Slash a dishonest reserve source (1).
    Slash = 1,
    /// Multi-input, multi-output transfer (2).
    Send = 2,
    /// Reserve a micropayment pool (3).
    ReserveFund = 3,
    /// Release a reserved pool (4).
    ReleaseFund = 4,
    /// Settle a micropayment cheque (5).
    ServicePayment = 5,
    /// Payment split rule (6).
    SplitRule = 6,
    /// EVM call or deployment (7): decoded, not executed.
    SmartContract = 7,
    /// Stake deposit (8).
    DepositStake = 8,
    /// Stake withdrawal (9).
    WithdrawStake = 9,
    /// Stake deposit carrying a guardian's BLS key (10).
    DepositStakeV2 = 10,
    /// Reward split between a stake holder and a beneficiary (11).
    StakeRewardDistribution = 11,
}

impl TxType {
    /// The type for a wire number.
    pub fn from_number(n: u64) -> Result<Self, Error> {
        Ok(match n {
            0 => TxType::Coinbase,
            1 => TxType::Slash,
            2 => TxType::Send,
            3 => TxType::ReserveFund,
            4 => TxType::ReleaseFund,
            5 => TxType::ServicePayment,
            6 => TxType::SplitRule,
            7 => TxType::SmartContract,
            8 => TxType::DepositStake,
            9 => TxType::WithdrawStake,
            10 => TxType::DepositStakeV2,
            11 => TxType::StakeRewardDistribution,
            other => return Err(Error::UnknownType(other)),
        })
    }

    /// The wire number.
    pub fn number(self) -> u64 {
        self as u64
    }

    /// The snake_case name used by the `theta_tx` tool's JSON (`"send"`, …).
    pub fn name(self) -> &'static str {
        match self {
            TxType::Coinbase => "coinbase",
            TxType::Slash => "slash",
            TxType::Send => "send",
            TxType::ReserveFund => "reserve_fund",
            TxType::ReleaseFund => "release_fund",
            TxType::ServicePayment => "service_payment",
            TxType::SplitRule => "split_rule",
            TxType::SmartContract => "smart_contract",
            TxType::DepositStake => "deposit_stake",
            TxType::WithdrawStake => "withdraw_stake",
            TxType::DepositStakeV2 => "deposit_stake_v2",
            TxType::StakeRewardDistribution => "stake_reward_distribution",
        }
    }
}

/// Stake purpose: a validator (`core.StakeForValidator`).
pub const STAKE_FOR_VALIDATOR: u8 = 0;
/// Stake purpose: a guardian (`core.StakeForGuardian`).
pub const STAKE_FOR_GUARDIAN: u8 = 1;
/// Stake purpose: an elite edge node (`core.StakeForEliteEdgeNode`).
pub const STAKE_FOR_ELITE_EDGE_NODE: u8 = 2;

/// An amount in both currencies, in wei (10^18 wei = 1 token).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Coins {
    /// THETA, the stake token.
    pub theta_wei: U256,
    /// TFUEL, the gas token.
    pub tfuel_wei: U256,
}

impl Coins {
    /// `theta_wei` THETA and `tfuel_wei` TFUEL.
    pub fn new(theta_wei: U256, tfuel_wei: U256) -> Self {
        Coins { theta_wei, tfuel_wei }
    }

    /// Zero of both.
    pub fn zero() -> Self {
        Coins::default()
    }

    /// Whether both amounts are zero.
    pub fn is_zero(&self) -> bool {
        self.theta_wei.is_zero() && self.tfuel_wei.is_zero()
    }

    /// `self + other`, or `None` when either currency overflows.
    pub fn checked_add(&self, other: &Coins) -> Option<Coins> {
        Some(Coins {
            theta_wei: self.theta_wei.checked_add(other.theta_wei)?,
            tfuel_wei: self.tfuel_wei.checked_add(other.tfuel_wei)?,
        })
    }

    /// `self - other`, or `None` when either currency would go negative.
    pub fn checked_sub(&self, other: &Coins) -> Option<Coins> {
        Some(Coins {
            theta_wei: self.theta_wei.checked_sub(other.theta_wei)?,
            tfuel_wei: self.tfuel_wei.checked_sub(other.tfuel_wei)?,
        })
    }
}

/// A spending input: the account, what it spends, its next sequence number and its
/// signature (empty until signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInput {
    /// The account.
    pub address: Address,
    /// What it spends (including its share of the fee).
    pub coins: Coins,
    /// Must be one more than the account's last committed sequence.
    pub sequence: u64,
    /// Over the transaction's sign bytes; `None` is Theta's empty signature.
    pub signature: Option<Signature>,
}

impl TxInput {
    /// An unsigned input.
    pub fn new(address: Address, coins: Coins, sequence: u64) -> Self {
        TxInput { address, coins, sequence, signature: None }
    }
}

/// A receiving output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutput {
    /// The account.
    pub address: Address,
    /// What it receives.
    pub coins: Coins,
}

impl TxOutput {
    /// An output of `coins` to `address`.
    pub fn new(address: Address, coins: Coins) -> Self {
        TxOutput { address, coins }
    }
}

/// One share of a [`SplitRuleTx`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Who receives the share.
    pub address: Address,
    /// Percentage (0..=100 when valid; the codec carries any `uint`).
    pub percentage: u64,
}

/// `CoinbaseTx{Proposer, Outputs, BlockHeight}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinbaseTx {
    /// The block proposer (signs).
    pub proposer: TxInput,
    /// Reward recipients.
    pub outputs: Vec<TxOutput>,
    /// The block height rewarded.
    pub block_height: u64,
}

/// `SlashTx{Proposer, SlashedAddress, ReserveSequence, SlashProof}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashTx {
    /// The block proposer (signs).
    pub proposer: TxInput,
    /// The account slashed.
    pub slashed_address: Address,
    /// The reserve the fault concerns.
    pub reserve_sequence: u64,
    /// The evidence, opaque to the codec.
    pub slash_proof: Vec<u8>,
}

/// `SendTx{Fee, Inputs, Outputs}`: every input signs the same sign bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendTx {
    /// The fee (TFUEL).
    pub fee: Coins,
    /// Spending accounts (each signs).
    pub inputs: Vec<TxInput>,
    /// Receiving accounts.
    pub outputs: Vec<TxOutput>,
}

/// `ReserveFundTx{Fee, Source, Collateral, ResourceIDs, Duration}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveFundTx {
    /// The fee.
    pub fee: Coins,
    /// The pool's source; `source.coins` is the deposit (signs).
    pub source: TxInput,
    /// Collateral, forfeited on overspend.
    pub collateral: Coins,
    /// Resources the pool pays for.
    pub resource_ids: Vec<String>,
    /// Lifetime in blocks.
    pub duration: u64,
}

/// `ReleaseFundTx{Fee, Source, ReserveSequence}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFundTx {
    /// The fee.
    pub fee: Coins,
    /// The pool's source (signs).
    pub source: TxInput,
    /// The reserve released.
    pub reserve_sequence: u64,
}

/// `ServicePaymentTx{Fee, Source, Target, PaymentSequence, ReserveSequence, ResourceID}`.
///
/// Two signatures over two different sign bytes (Go `SourceSignBytes` and
/// `TargetSignBytes`): the source signs the cheque off-chain with the fee zeroed, its
/// own sequence and signature emptied and the target reduced to its address; the target
/// countersigns the whole transaction, source signature included, its own emptied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePaymentTx {
    /// The fee (paid by the target).
    pub fee: Coins,
    /// The payer; `source.coins` is the cumulative amount (signs the cheque).
    pub source: TxInput,
    /// The payee submitting the settlement (countersigns).
    pub target: TxInput,
    /// Strictly increasing per settlement.
    pub payment_sequence: u64,
    /// The reserve paid from.
    pub reserve_sequence: u64,
    /// The resource paid for.
    pub resource_id: String,
}

/// `SplitRuleTx{Fee, ResourceID, Initiator, Splits, Duration}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRuleTx {
    /// The fee.
    pub fee: Coins,
    /// The resource whose payments are split.
    pub resource_id: String,
    /// Who sets the rule (signs).
    pub initiator: TxInput,
    /// The shares.
    pub splits: Vec<Split>,
    /// Lifetime in blocks.
    pub duration: u64,
}

/// `SmartContractTx{From, To, GasLimit, GasPrice, Data}`: decoded and encoded, refused by
/// [`Transaction::check_supported`] until the EVM work lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartContractTx {
    /// The caller (signs); `from.coins.tfuel_wei` is the value.
    pub from: TxInput,
    /// The contract (zero address: deployment).
    pub to: TxOutput,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas price in TFUEL wei.
    pub gas_price: U256,
    /// Call data or init code.
    pub data: Vec<u8>,
}

/// `DepositStakeTx{Fee, Source, Holder, Purpose}`; `WithdrawStakeTx` has the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StakeTx {
    /// The fee.
    pub fee: Coins,
    /// The staker; `source.coins` is the stake (signs).
    pub source: TxInput,
    /// The stake holder (validator, guardian or edge node).
    pub holder: TxOutput,
    /// [`STAKE_FOR_VALIDATOR`], [`STAKE_FOR_GUARDIAN`] or [`STAKE_FOR_ELITE_EDGE_NODE`].
    pub purpose: u8,
}

/// `DepositStakeTxV2{Fee, Source, Holder, Purpose, BlsPubkey, BlsPop, HolderSig}`.
///
/// For a guardian the holder proves its BLS key: `bls_pop` is the proof of possession
/// and `holder_sig` the holder's secp256k1 signature over `keccak256(bls_pop)` (Theta's
/// `checkBLSSummary`: `HolderSig.Verify(BlsPop.ToBytes(), Holder.Address)`). The three
/// fields are optional on the wire (`rlp:"nil"`: an empty string when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositStakeV2Tx {
    /// The fee.
    pub fee: Coins,
    /// The staker (signs).
    pub source: TxInput,
    /// The stake holder.
    pub holder: TxOutput,
    /// Stake purpose.
    pub purpose: u8,
    /// The holder's BLS public key, 48 bytes, or absent.
    pub bls_pubkey: Option<[u8; BLS_PUBKEY_LEN]>,
    /// Its proof of possession, 96 bytes, or absent.
    pub bls_pop: Option<[u8; BLS_POP_LEN]>,
    /// The holder's signature over `keccak256(bls_pop)`, or absent.
    pub holder_sig: Option<Signature>,
}

/// `StakeRewardDistributionTx{Fee, Holder, Beneficiary, SplitBasisPoint}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StakeRewardDistributionTx {
    /// The fee.
    pub fee: Coins,
    /// The stake holder (signs).
    pub holder: TxInput,
    /// Who receives the split.
    pub beneficiary: TxOutput,
    /// Beneficiary's share in basis points (0..=10 000 when valid).
    pub split_basis_point: u64,
}

/// Any Theta transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transaction {
    /// Type 0.
    Coinbase(CoinbaseTx),
    /// Type 1.
    Slash(SlashTx),
    /// Type 2.
    Send(SendTx),
    /// Type 3.
    ReserveFund(ReserveFundTx),
    /// Type 4.
    ReleaseFund(ReleaseFundTx),
    /// Type 5.
    ServicePayment(ServicePaymentTx),
    /// Type 6.
    SplitRule(SplitRuleTx),
    /// Type 7.
    SmartContract(SmartContractTx),
    /// Type 8.
    DepositStake(StakeTx),
    /// Type 9.
    WithdrawStake(StakeTx),
    /// Type 10.
    DepositStakeV2(DepositStakeV2Tx),
    /// Type 11.
    StakeRewardDistribution(StakeRewardDistributionTx),
}

impl Transaction {
    /// This transaction's type.
    pub fn tx_type(&self) -> TxType {
        match self {
            Transaction::Coinbase(_) => TxType::Coinbase,
            Transaction::Slash(_) => TxType::Slash,
            Transaction::Send(_) => TxType::Send,
            Transaction::ReserveFund(_) => TxType::ReserveFund,
            Transaction::ReleaseFund(_) => TxType::ReleaseFund,
            Transaction::ServicePayment(_) => TxType::ServicePayment,
            Transaction::SplitRule(_) => TxType::SplitRule,
            Transaction::SmartContract(_) => TxType::SmartContract,
            Transaction::DepositStake(_) => TxType::DepositStake,
            Transaction::WithdrawStake(_) => TxType::WithdrawStake,
            Transaction::DepositStakeV2(_) => TxType::DepositStakeV2,
            Transaction::StakeRewardDistribution(_) => TxType::StakeRewardDistribution,
        }
    }

    /// `Ok` for the types the ledger executes; [`Error::Unsupported`] for SmartContract,
    /// which decodes and round-trips but has no executor until the EVM work lands.
    /// Execution calls this before anything else.
    pub fn check_supported(&self) -> Result<(), Error> {
        match self {
            Transaction::SmartContract(_) => Err(Error::Unsupported { tx_type: TxType::SmartContract }),
            _ => Ok(()),
        }
    }

    /// The wire bytes: `RLP(type) ‖ RLP(struct)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = primitives::rlp::encode(&self.tx_type().number()).to_vec();
        out.extend_from_slice(&self.encode_body());
        out
    }

    /// `RLP(struct)` alone.
    pub(crate) fn encode_body(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        match self {
            Transaction::Coinbase(t) => {
                s.begin_list(3);
                put_input(&mut s, &t.proposer);
                put_outputs(&mut s, &t.outputs);
                s.append(&t.block_height);
            }
            Transaction::Slash(t) => {
                s.begin_list(4);
                put_input(&mut s, &t.proposer);
                s.append(&t.slashed_address.as_bytes());
                s.append(&t.reserve_sequence);
                s.append(&t.slash_proof.as_slice());
            }
            Transaction::Send(t) => {
                s.begin_list(3);
                put_coins(&mut s, &t.fee);
                s.begin_list(t.inputs.len());
                for i in &t.inputs {
                    put_input(&mut s, i);
                }
                put_outputs(&mut s, &t.outputs);
            }
            Transaction::ReserveFund(t) => {
                s.begin_list(5);
                put_coins(&mut s, &t.fee);
                put_input(&mut s, &t.source);
                put_coins(&mut s, &t.collateral);
                s.begin_list(t.resource_ids.len());
                for r in &t.resource_ids {
                    s.append(&r.as_bytes());
                }
                s.append(&t.duration);
            }
            Transaction::ReleaseFund(t) => {
                s.begin_list(3);
                put_coins(&mut s, &t.fee);
                put_input(&mut s, &t.source);
                s.append(&t.reserve_sequence);
            }
            Transaction::ServicePayment(t) => {
                s.begin_list(6);
                put_coins(&mut s, &t.fee);
                put_input(&mut s, &t.source);
                put_input(&mut s, &t.target);
                s.append(&t.payment_sequence);
                s.append(&t.reserve_sequence);
                s.append(&t.resource_id.as_bytes());
            }
            Transaction::SplitRule(t) => {
                s.begin_list(5);
                put_coins(&mut s, &t.fee);
                s.append(&t.resource_id.as_bytes());
                put_input(&mut s, &t.initiator);
                s.begin_list(t.splits.len());
                for sp in &t.splits {
                    s.begin_list(2);
                    s.append(&sp.address.as_bytes());
                    s.append(&sp.percentage);
                }
                s.append(&t.duration);
            }
            Transaction::SmartContract(t) => {
                s.begin_list(5);
                put_input(&mut s, &t.from);
                put_output(&mut s, &t.to);
                s.append(&t.gas_limit);
                s.append(&t.gas_price);
                s.append(&t.data.as_slice());
            }
            Transaction::DepositStake(t) | Transaction::WithdrawStake(t) => put_stake(&mut s, t),
            Transaction::DepositStakeV2(t) => {
                s.begin_list(7);
                put_coins(&mut s, &t.fee);
                put_input(&mut s, &t.source);
                put_output(&mut s, &t.holder);
                s.append(&t.purpose);
                match &t.bls_pubkey {
                    Some(k) => s.append(&k.as_slice()),
                    None => s.append_empty_data(),
                };
                match &t.bls_pop {
                    Some(p) => s.append(&p.as_slice()),
                    None => s.append_empty_data(),
                };
                put_signature(&mut s, t.holder_sig.as_ref());
            }
            Transaction::StakeRewardDistribution(t) => {
                s.begin_list(4);
                put_coins(&mut s, &t.fee);
                put_input(&mut s, &t.holder);
                put_output(&mut s, &t.beneficiary);
                s.append(&t.split_basis_point);
            }
        }
        s.out().to_vec()
    }

    /// Decodes untrusted wire bytes of at most `limit` bytes: exactly one type prefix and
    /// one struct, nothing after, in canonical form.
    pub fn decode(bytes: &[u8], limit: usize) -> Result<Self, Error> {
        if bytes.len() > limit {
            return Err(Error::TooLong { len: bytes.len(), limit });
        }
        if bytes.is_empty() {
            return Err(Error::Empty);
        }
        let prefix_len = item_len(bytes, "type")?;
        let (prefix, body) = bytes.split_at(prefix_len);
        let number = uint(&Rlp::new(prefix), "type")?;
        let tx_type = TxType::from_number(number)?;
        if body.is_empty() {
            return Err(Error::Rlp { field: "body".into(), reason: "missing transaction struct".into() });
        }
        let body_len = item_len(body, "body")?;
        if body_len != body.len() {
            return Err(Error::TrailingBytes { extra: body.len() - body_len });
        }
        let tx = decode_body(tx_type, &Rlp::new(body))?;
        if tx.encode() != bytes {
            return Err(Error::NonCanonical);
        }
        Ok(tx)
    }
}

pub(crate) fn put_coins(s: &mut RlpStream, c: &Coins) {
    s.begin_list(2);
    s.append(&c.theta_wei);
    s.append(&c.tfuel_wei);
}

pub(crate) fn put_signature(s: &mut RlpStream, sig: Option<&Signature>) {
    match sig {
        Some(sig) => s.append(&crate::sign::theta_signature_bytes(sig).as_slice()),
        None => s.append_empty_data(),
    };
}

pub(crate) fn put_input(s: &mut RlpStream, i: &TxInput) {
    s.begin_list(4);
    s.append(&i.address.as_bytes());
    put_coins(s, &i.coins);
    s.append(&i.sequence);
    put_signature(s, i.signature.as_ref());
}

fn put_output(s: &mut RlpStream, o: &TxOutput) {
    s.begin_list(2);
    s.append(&o.address.as_bytes());
    put_coins(s, &o.coins);
}

fn put_outputs(s: &mut RlpStream, outs: &[TxOutput]) {
    s.begin_list(outs.len());
    for o in outs {
        put_output(s, o);
    }
}

pub(crate) fn put_stake(s: &mut RlpStream, t: &StakeTx) {
    s.begin_list(4);
    put_coins(s, &t.fee);
    put_input(s, &t.source);
    put_output(s, &t.holder);
    s.append(&t.purpose);
}

/// Header plus payload length of the first item of `bytes`, checked against `bytes`.
pub(crate) fn item_len(bytes: &[u8], field: &str) -> Result<usize, Error> {
    let info = Rlp::new(bytes).payload_info().map_err(|e| Error::rlp(field, e))?;
    let total = info
        .header_len
        .checked_add(info.value_len)
        .ok_or_else(|| Error::Rlp { field: field.to_owned(), reason: "length overflow".into() })?;
    if total > bytes.len() {
        return Err(Error::Rlp {
            field: field.to_owned(),
            reason: "item runs past the end of the input".into(),
        });
    }
    Ok(total)
}

pub(crate) fn list<'a>(r: &Rlp<'a>, expected: usize, field: &str) -> Result<Vec<Rlp<'a>>, Error> {
    let items = any_list(r, field)?;
    if items.len() != expected {
        return Err(Error::WrongItemCount { field: field.to_owned(), expected, got: items.len() });
    }
    Ok(items)
}

fn any_list<'a>(r: &Rlp<'a>, field: &str) -> Result<Vec<Rlp<'a>>, Error> {
    if !r.is_list() {
        return Err(Error::Rlp { field: field.to_owned(), reason: "expected a list".into() });
    }
    let mut out = Vec::new();
    for item in r.iter() {
        // `iter` stops at the first malformed item; the item count check below catches it.
        out.push(item);
    }
    let count = r.item_count().map_err(|e| Error::rlp(field, e))?;
    if count != out.len() {
        return Err(Error::Rlp { field: field.to_owned(), reason: "malformed list item".into() });
    }
    Ok(out)
}

pub(crate) fn data<'a>(r: &Rlp<'a>, field: &str) -> Result<&'a [u8], Error> {
    if !r.is_data() {
        return Err(Error::Rlp { field: field.to_owned(), reason: "expected a byte string".into() });
    }
    r.data().map_err(|e| Error::rlp(field, e))
}

pub(crate) fn uint(r: &Rlp<'_>, field: &str) -> Result<u64, Error> {
    let d = data(r, field)?;
    if d.len() > 8 {
        return Err(Error::IntegerOverflow { field: field.to_owned() });
    }
    if d.first() == Some(&0) {
        return Err(Error::NonCanonical);
    }
    Ok(d.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn u8_field(r: &Rlp<'_>, field: &str) -> Result<u8, Error> {
    u8::try_from(uint(r, field)?).map_err(|_| Error::IntegerOverflow { field: field.to_owned() })
}

pub(crate) fn u256(r: &Rlp<'_>, field: &str) -> Result<U256, Error> {
    let d = data(r, field)?;
    if d.len() > 32 {
        return Err(Error::IntegerOverflow { field: field.to_owned() });
    }
    if d.first() == Some(&0) {
        return Err(Error::NonCanonical);
    }
    Ok(U256::from_big_endian(d))
}

fn address(r: &Rlp<'_>, field: &str) -> Result<Address, Error> {
    let d = data(r, field)?;
    if d.len() != 20 {
        return Err(Error::BadLength { field: field.to_owned(), expected: 20, got: d.len() });
    }
    Ok(Address::from_slice(d))
}

fn string(r: &Rlp<'_>, field: &str) -> Result<String, Error> {
    let d = data(r, field)?;
    String::from_utf8(d.to_vec()).map_err(|_| Error::NotUtf8 { field: field.to_owned() })
}

fn fixed<const N: usize>(r: &Rlp<'_>, field: &str) -> Result<Option<[u8; N]>, Error> {
    let d = data(r, field)?;
    if d.is_empty() {
        return Ok(None);
    }
    <[u8; N]>::try_from(d).map(Some).map_err(|_| Error::BadLength {
        field: field.to_owned(),
        expected: N,
        got: d.len(),
    })
}

fn signature(r: &Rlp<'_>, field: &str) -> Result<Option<Signature>, Error> {
    let d = data(r, field)?;
    if d.is_empty() {
        return Ok(None);
    }
    crate::sign::parse_theta_signature(d)
        .map(Some)
        .map_err(|e| Error::BadSignature { field: field.to_owned(), reason: e.to_string() })
}

pub(crate) fn coins(r: &Rlp<'_>, field: &str) -> Result<Coins, Error> {
    let f = list(r, 2, field)?;
    Ok(Coins { theta_wei: u256(&f[0], field)?, tfuel_wei: u256(&f[1], field)? })
}

pub(crate) fn input(r: &Rlp<'_>, field: &str) -> Result<TxInput, Error> {
    let f = list(r, 4, field)?;
    Ok(TxInput {
        address: address(&f[0], field)?,
        coins: coins(&f[1], field)?,
        sequence: uint(&f[2], field)?,
        signature: signature(&f[3], field)?,
    })
}

fn output(r: &Rlp<'_>, field: &str) -> Result<TxOutput, Error> {
    let f = list(r, 2, field)?;
    Ok(TxOutput { address: address(&f[0], field)?, coins: coins(&f[1], field)? })
}

fn outputs(r: &Rlp<'_>, field: &str) -> Result<Vec<TxOutput>, Error> {
    any_list(r, field)?.iter().map(|o| output(o, field)).collect()
}

fn stake(f: &[Rlp<'_>], name: &str) -> Result<StakeTx, Error> {
    Ok(StakeTx {
        fee: coins(&f[0], &format!("{name}.fee"))?,
        source: input(&f[1], &format!("{name}.source"))?,
        holder: output(&f[2], &format!("{name}.holder"))?,
        purpose: u8_field(&f[3], &format!("{name}.purpose"))?,
    })
}

fn decode_body(tx_type: TxType, r: &Rlp<'_>) -> Result<Transaction, Error> {
    Ok(match tx_type {
        TxType::Coinbase => {
            let f = list(r, 3, "coinbase")?;
            Transaction::Coinbase(CoinbaseTx {
                proposer: input(&f[0], "coinbase.proposer")?,
                outputs: outputs(&f[1], "coinbase.outputs")?,
                block_height: uint(&f[2], "coinbase.block_height")?,
            })
        }
        TxType::Slash => {
            let f = list(r, 4, "slash")?;
            Transaction::Slash(SlashTx {
                proposer: input(&f[0], "slash.proposer")?,
                slashed_address: address(&f[1], "slash.slashed_address")?,
                reserve_sequence: uint(&f[2], "slash.reserve_sequence")?,
                slash_proof: data(&f[3], "slash.slash_proof")?.to_vec(),
            })
        }
        TxType::Send => {
            let f = list(r, 3, "send")?;
            Transaction::Send(SendTx {
                fee: coins(&f[0], "send.fee")?,
                inputs: any_list(&f[1], "send.inputs")?
                    .iter()
                    .map(|i| input(i, "send.inputs"))
                    .collect::<Result<_, _>>()?,
                outputs: outputs(&f[2], "send.outputs")?,
            })
        }
        TxType::ReserveFund => {
            let f = list(r, 5, "reserve_fund")?;
            Transaction::ReserveFund(ReserveFundTx {
                fee: coins(&f[0], "reserve_fund.fee")?,
                source: input(&f[1], "reserve_fund.source")?,
                collateral: coins(&f[2], "reserve_fund.collateral")?,
                resource_ids: any_list(&f[3], "reserve_fund.resource_ids")?
                    .iter()
                    .map(|s| string(s, "reserve_fund.resource_ids"))
                    .collect::<Result<_, _>>()?,
                duration: uint(&f[4], "reserve_fund.duration")?,
            })
        }
        TxType::ReleaseFund => {
            let f = list(r, 3, "release_fund")?;
            Transaction::ReleaseFund(ReleaseFundTx {
                fee: coins(&f[0], "release_fund.fee")?,
                source: input(&f[1], "release_fund.source")?,
                reserve_sequence: uint(&f[2], "release_fund.reserve_sequence")?,
            })
        }
        TxType::ServicePayment => {
            let f = list(r, 6, "service_payment")?;
            Transaction::ServicePayment(ServicePaymentTx {
                fee: coins(&f[0], "service_payment.fee")?,
                source: input(&f[1], "service_payment.source")?,
                target: input(&f[2], "service_payment.target")?,
                payment_sequence: uint(&f[3], "service_payment.payment_sequence")?,
                reserve_sequence: uint(&f[4], "service_payment.reserve_sequence")?,
                resource_id: string(&f[5], "service_payment.resource_id")?,
            })
        }
        TxType::SplitRule => {
            let f = list(r, 5, "split_rule")?;
            Transaction::SplitRule(SplitRuleTx {
                fee: coins(&f[0], "split_rule.fee")?,
                resource_id: string(&f[1], "split_rule.resource_id")?,
                initiator: input(&f[2], "split_rule.initiator")?,
                splits: any_list(&f[3], "split_rule.splits")?
                    .iter()
                    .map(|sp| {
                        let g = list(sp, 2, "split_rule.splits")?;
                        Ok(Split {
                            address: address(&g[0], "split_rule.splits.address")?,
                            percentage: uint(&g[1], "split_rule.splits.percentage")?,
                        })
                    })
                    .collect::<Result<_, Error>>()?,
                duration: uint(&f[4], "split_rule.duration")?,
            })
        }
        TxType::SmartContract => {
            let f = list(r, 5, "smart_contract")?;
            Transaction::SmartContract(SmartContractTx {
                from: input(&f[0], "smart_contract.from")?,
                to: output(&f[1], "smart_contract.to")?,
                gas_limit: uint(&f[2], "smart_contract.gas_limit")?,
                gas_price: u256(&f[3], "smart_contract.gas_price")?,
                data: data(&f[4], "smart_contract.data")?.to_vec(),
            })
        }
        TxType::DepositStake => {
            Transaction::DepositStake(stake(&list(r, 4, "deposit_stake")?, "deposit_stake")?)
        }
        TxType::WithdrawStake => {
            Transaction::WithdrawStake(stake(&list(r, 4, "withdraw_stake")?, "withdraw_stake")?)
        }
        TxType::DepositStakeV2 => {
            let f = list(r, 7, "deposit_stake_v2")?;
            let base = stake(&f[..4], "deposit_stake_v2")?;
            Transaction::DepositStakeV2(DepositStakeV2Tx {
                fee: base.fee,
                source: base.source,
                holder: base.holder,
                purpose: base.purpose,
                bls_pubkey: fixed::<BLS_PUBKEY_LEN>(&f[4], "deposit_stake_v2.bls_pubkey")?,
                bls_pop: fixed::<BLS_POP_LEN>(&f[5], "deposit_stake_v2.bls_pop")?,
                holder_sig: signature(&f[6], "deposit_stake_v2.holder_sig")?,
            })
        }
        TxType::StakeRewardDistribution => {
            let f = list(r, 4, "stake_reward_distribution")?;
            Transaction::StakeRewardDistribution(StakeRewardDistributionTx {
                fee: coins(&f[0], "stake_reward_distribution.fee")?,
                holder: input(&f[1], "stake_reward_distribution.holder")?,
                beneficiary: output(&f[2], "stake_reward_distribution.beneficiary")?,
                split_basis_point: uint(&f[3], "stake_reward_distribution.split_basis_point")?,
            })
        }
    })
}
