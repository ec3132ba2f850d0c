//! The one error type of this crate.

use primitives::{Address, U256};

use crate::tx::TxType;

/// Everything that can go wrong when decoding, signing or checking a transaction.
///
/// Every variant says what was wrong and, where it applies, where and by how much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than the caller's limit; nothing was decoded.
    #[error("transaction of {len} bytes exceeds the limit of {limit} bytes")]
    TooLong {
        /// Length of the input.
        len: usize,
        /// The caller's limit.
        limit: usize,
    },
    /// The input is empty or ends inside the type prefix.
    #[error("input ends before the transaction type")]
    Empty,
    /// The type prefix is not one of Theta's twelve transaction types (0..=11).
    #[error("unknown transaction type {0}")]
    UnknownType(u64),
    /// The bytes are not valid RLP for the expected shape.
    #[error("invalid RLP in {field}: {reason}")]
    Rlp {
        /// The field being decoded (`"send.inputs[1].coins"` style path).
        field: String,
        /// What the RLP decoder reported.
        reason: String,
    },
    /// A list had the wrong number of items.
    #[error("{field}: expected a list of {expected} items, got {got}")]
    WrongItemCount {
        /// The field being decoded.
        field: String,
        /// Items Theta's struct has.
        expected: usize,
        /// Items found.
        got: usize,
    },
    /// A fixed-length byte string (address, BLS key) had the wrong length.
    #[error("{field}: expected {expected} bytes, got {got}")]
    BadLength {
        /// The field being decoded.
        field: String,
        /// Required length (a BLS field may also be empty).
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// An integer does not fit its field (for example a purpose above 255).
    #[error("{field}: integer out of range")]
    IntegerOverflow {
        /// The field being decoded.
        field: String,
    },
    /// A string field is not UTF-8 (Theta's Go strings may hold any bytes; this crate
    /// accepts only UTF-8 resource and chain ids).
    #[error("{field}: not UTF-8")]
    NotUtf8 {
        /// The field being decoded.
        field: String,
    },
    /// A signature field is neither empty nor 65 canonical bytes `r ‖ s ‖ v` with
    /// `v ∈ {0, 1}` and low `s`.
    #[error("{field}: invalid signature: {reason}")]
    BadSignature {
        /// The field being decoded.
        field: String,
        /// Why it was refused.
        reason: String,
    },
    /// Bytes were left over after the transaction struct.
    #[error("{extra} trailing bytes after the transaction")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
    /// The bytes decode, but are not the one canonical encoding of the value they decode
    /// to (a long-form length, a leading zero, a single byte wrapped in a string header).
    #[error("non-canonical encoding")]
    NonCanonical,
    /// The transaction type is decoded and encoded but not executed yet (SmartContract,
    /// until the EVM work lands).
    #[error("{tx_type:?} transactions are not supported yet")]
    Unsupported {
        /// The type refused.
        tx_type: TxType,
    },
    /// The requested signer role does not exist in this transaction.
    #[error("{tx_type:?} has no signer {role}")]
    NoSuchSigner {
        /// The transaction's type.
        tx_type: TxType,
        /// The role asked for.
        role: String,
    },
    /// A stake purpose other than validator (0), guardian (1) or elite edge node (2):
    /// Theta defines no sign bytes for it.
    #[error("invalid stake purpose {0}")]
    InvalidStakePurpose(u8),
    /// The signer's key does not belong to the input it was asked to sign.
    #[error("key of {key:?} cannot sign the input of {input:?}")]
    SignerMismatch {
        /// The address of the key offered.
        key: Address,
        /// The address of the input.
        input: Address,
    },
    /// A signature that is required is empty.
    #[error("missing signature for {address:?}")]
    MissingSignature {
        /// The input whose signature is empty.
        address: Address,
    },
    /// The signature recovers to a different address than the input's.
    #[error("signed by {recovered:?}, expected {expected:?}")]
    WrongSigner {
        /// The address the signature recovers to.
        recovered: Address,
        /// The input's address.
        expected: Address,
    },
    /// No public key could be recovered from the signature and digest.
    #[error("public key recovery failed")]
    RecoveryFailed,
    /// A `theta_tx` JSON document does not parse into the expected shape.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A field of a `theta_tx` JSON document has a bad value (not hex, not a decimal
    /// amount, wrong length…).
    #[error("JSON field {field}: {reason}")]
    JsonField {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn rlp(field: &str, e: primitives::rlp::DecoderError) -> Self {
        Error::Rlp { field: field.to_owned(), reason: e.to_string() }
    }
}

/// Why a transaction or a block was not executed. A transaction that returns one of
/// these changed nothing; a block that returns one changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// A signature, or the transaction's shape as the codec sees it, is wrong.
    #[error("{0}")]
    Tx(#[from] Error),
    /// The transaction type is decoded but its executor is built elsewhere and not wired
    /// in yet. No type returns it at present (all eleven non-contract types execute);
    /// kept for types added later.
    #[error("{tx_type:?} transactions are not executable yet")]
    NotEnabled {
        /// The type refused.
        tx_type: TxType,
    },
    /// A Slash transaction's evidence does not verify (or does not match the
    /// transaction's fields).
    #[error("slash: {0}")]
    Slash(#[from] crate::slashing::SlashError),
    /// A transaction whose state writes exceed the trie's limits (a record too large,
    /// e.g. a reserve with too many payees, or a split rule with too many shares).
    #[error(
        "state write {key:?}…: key of {key_len} bytes, value of {value_len} bytes, over the trie's limits"
    )]
    StateLimit {
        /// The key's first bytes.
        key: String,
        /// Its length.
        key_len: usize,
        /// The value's length.
        value_len: usize,
    },
    /// A ticket broker rule refused the transaction (module `tickets`): the broker's
    /// own error, as `pm-tickets` names it.
    #[error("ticket broker: {0}")]
    Ticket(pm_tickets::Error),
    /// A ticket transaction whose input names other coins than the operation moves
    /// (a Fund's deposit; none for the others).
    #[error("ticket transaction input coins {got:?}, the operation moves {expected} TFUEL wei")]
    TicketInputCoins {
        /// TFUEL wei the operation moves from the signer (no THETA).
        expected: U256,
        /// What the input names.
        got: Box<crate::tx::Coins>,
    },
    /// An Ethereum transaction signed for another chain, or for none (pre-EIP-155 legacy,
    /// replayable on every chain: refused).
    #[error("Ethereum transaction for chain {found:?}, this chain is {expected}")]
    EthWrongChain {
        /// This ledger's Ethereum chain id.
        expected: u64,
        /// The transaction's (`None`: unprotected).
        found: Option<u64>,
    },
    /// An Ethereum transaction this ledger does not execute yet (contract creation or a
    /// call with data: the EVM work).
    #[error("unsupported Ethereum transaction: {reason}")]
    EthUnsupported {
        /// What it asks.
        reason: &'static str,
    },
    /// An Ethereum transaction offering less than the ledger's fee.
    #[error("the transaction offers at most {offered} wei of fee, the ledger charges {needed}")]
    EthFeeTooLow {
        /// `gas · max_fee_per_gas` (or `gas · gas_price`).
        offered: U256,
        /// The ledger's fee for a transfer.
        needed: U256,
    },
    /// A SplitRule whose shares are not percentages summing to at most 100.
    #[error("bad split: {reason}")]
    BadSplit {
        /// What is wrong.
        reason: String,
    },
    /// A SplitRule for a resource whose rule in force belongs to another initiator.
    #[error("the split rule of {resource_id:?} belongs to {initiator:?}")]
    SplitRuleTaken {
        /// The resource.
        resource_id: String,
        /// The rule's initiator.
        initiator: Address,
    },
    /// A Coinbase in a block executed without its consensus context
    /// ([`crate::Ledger::execute_block_in`]), or submitted on its own.
    #[error("a Coinbase needs the block's context")]
    NoBlockContext,
    /// A Coinbase that is not the block's first transaction (or a second one).
    #[error("the Coinbase must be the block's first and only one")]
    CoinbaseNotFirst,
    /// A Coinbase carried by someone other than the block's proposer.
    #[error("Coinbase by {found:?}, the proposer is {proposer:?}")]
    NotProposer {
        /// Who carried it.
        found: Address,
        /// The block's proposer.
        proposer: Address,
    },
    /// The Coinbase's credits are not the block's rewards, or the rewards cannot be
    /// computed (bad checkpoint aggregate, …).
    #[error("rewards: {0}")]
    Reward(crate::rewards::RewardError),
    /// The state a computation needs (the committee or checkpoint of `height`) is not
    /// retained.
    #[error("no retained state for height {height}")]
    UnknownState {
        /// The height.
        height: u64,
    },
    /// A Slash transaction's proposer is not a validator of the block's height.
    #[error("{proposer:?} is not a validator at height {height}")]
    NotValidator {
        /// The proposer.
        proposer: Address,
        /// The block's height.
        height: u64,
    },
    /// A stake purpose with no pool here (elite edge nodes, purpose 2, and anything above).
    #[error("stake purpose {purpose} is not supported")]
    UnsupportedPurpose {
        /// The purpose.
        purpose: u8,
    },
    /// A transaction with no inputs.
    #[error("no inputs")]
    NoInputs,
    /// A transaction with no outputs.
    #[error("no outputs")]
    NoOutputs,
    /// More accounts than a transaction may touch (Theta's `MaxAccountsAffectedPerTx`).
    #[error("{count} accounts affected, at most {max} allowed")]
    TooManyAccounts {
        /// Inputs plus outputs.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same address spends twice in one transaction.
    #[error("duplicate input {address:?}")]
    DuplicateInput {
        /// The address.
        address: Address,
    },
    /// The input's sequence is not the account's next one (a replay, or a gap).
    #[error("sequence of {address:?}: expected {expected}, got {got}")]
    BadSequence {
        /// The account.
        address: Address,
        /// Its last sequence plus one.
        expected: u64,
        /// What the transaction carries.
        got: u64,
    },
    /// An account cannot pay what the transaction takes from it.
    #[error("{address:?} holds {available} {currency} wei, needs {needed}")]
    InsufficientFunds {
        /// The account.
        address: Address,
        /// `"THETA"` or `"TFUEL"`: the coin that is short.
        currency: &'static str,
        /// What it must pay in that coin.
        needed: U256,
        /// What it holds.
        available: U256,
    },
    /// The fee carries THETA (fees are TFUEL only).
    #[error("fee carries {theta_wei} THETA wei; fees are paid in TFUEL")]
    FeeNotTfuel {
        /// The THETA part.
        theta_wei: U256,
    },
    /// The fee is below the minimum for this transaction.
    #[error("fee {fee} TFUEL wei is below the minimum {min}")]
    FeeTooLow {
        /// The fee offered.
        fee: U256,
        /// The minimum.
        min: U256,
    },
    /// A Send's inputs do not equal its outputs plus fee.
    #[error("{currency}: inputs {inputs} differ from outputs plus fee {outputs_plus_fee}")]
    Unbalanced {
        /// `"THETA"` or `"TFUEL"`: the first coin that differs.
        currency: &'static str,
        /// Sum of the inputs in that coin.
        inputs: U256,
        /// Sum of the outputs plus the fee in that coin.
        outputs_plus_fee: U256,
    },
    /// An amount overflowed `U256`.
    #[error("amount overflow in {what}")]
    Overflow {
        /// Which sum.
        what: &'static str,
    },
    /// A validator or guardian stake carries TFUEL (stakes are THETA).
    #[error("stake carries {tfuel_wei} TFUEL wei; validator and guardian stakes are THETA")]
    StakeNotTheta {
        /// The TFUEL part.
        tfuel_wei: U256,
    },
    /// A deposit below the pool's minimum.
    #[error("stake {amount} is below the minimum {min}")]
    StakeBelowMinimum {
        /// The deposit.
        amount: U256,
        /// The minimum.
        min: U256,
    },
    /// A holder's first deposit must register its BLS key (a DepositStakeV2 with key,
    /// proof of possession and holder signature).
    #[error("first deposit for {holder:?} carries no {missing}")]
    MissingBlsKey {
        /// The holder.
        holder: Address,
        /// Which field is absent.
        missing: &'static str,
    },
    /// The BLS key or its proof of possession does not check (IETF POP ciphersuite).
    #[error("BLS key of {holder:?} refused: {reason}")]
    BadBlsKey {
        /// The holder.
        holder: Address,
        /// What failed.
        reason: String,
    },
    /// The holder's signature over the proof of possession does not check.
    #[error("holder signature of {holder:?}: {source}")]
    BadHolderSignature {
        /// The holder.
        holder: Address,
        /// What failed.
        source: Error,
    },
    /// The BLS key is already registered by another holder in this pool.
    #[error("BLS key already registered by {owner:?}")]
    DuplicateBlsKey {
        /// The holder that registered it.
        owner: Address,
    },
    /// The source's stake in this holder is being withdrawn (Theta: no deposit during
    /// the locking period).
    #[error("stake of {source_addr:?} in {holder:?} is being withdrawn")]
    DepositDuringWithdrawal {
        /// The source.
        source_addr: Address,
        /// The holder.
        holder: Address,
    },
    /// No such holder in the pool.
    #[error("no stake holder {holder:?} for purpose {purpose}")]
    NoSuchHolder {
        /// The holder.
        holder: Address,
        /// The pool.
        purpose: u8,
    },
    /// The holder has no stake of this source.
    #[error("{holder:?} holds no stake of {source_addr:?}")]
    NoSuchStake {
        /// The holder.
        holder: Address,
        /// The source.
        source_addr: Address,
    },
    /// The source's stake is already being withdrawn.
    #[error("stake of {source_addr:?} in {holder:?} already withdrawn")]
    AlreadyWithdrawn {
        /// The source.
        source_addr: Address,
        /// The holder.
        holder: Address,
    },
    /// A pool transaction carries THETA where the micropayment pool holds TFUEL only.
    #[error("{field} carries THETA; micropayment pools hold TFUEL only")]
    PoolNotTfuel {
        /// The field.
        field: &'static str,
    },
    /// The micropayment pool rules refused the transaction.
    #[error("micropool: {0}")]
    Pool(#[from] micropool::Error),
    /// A block's height is not above the last executed one.
    #[error("block height {got} is not above the last executed height {last}")]
    HeightNotIncreasing {
        /// The last executed height.
        last: u64,
        /// The block's.
        got: u64,
    },
    /// A block is open: commit or abort it first.
    #[error("a block is in progress")]
    BlockInProgress,
    /// No block is open: begin one first.
    #[error("no block in progress")]
    NoBlockInProgress,
    /// Transaction `index` of a block failed; the block changed nothing.
    #[error("transaction {index} of the block: {error}")]
    InBlock {
        /// Position in the block.
        index: usize,
        /// Why.
        error: Box<ExecError>,
    },
    /// Genesis is malformed.
    #[error("genesis: {0}")]
    Genesis(String),
    /// The pruning policy refused an operation.
    #[error("pruning: {0}")]
    Pruning(String),
    /// The store failed or holds something the trie cannot read.
    #[error("store: {0}")]
    Store(#[from] mpt_refcount::Error),
    /// A stored value does not decode as the record its key names.
    #[error("corrupt state at {key}: {reason}")]
    CorruptState {
        /// The key (lossy UTF-8).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A validator or guardian set cannot be built from the pool.
    #[error("set: {0}")]
    Set(String),
}
