//! # ledger — Theta's dual-currency ledger
//!
//! Issue 17's deterministic state machine, in layers:
//!
//! 1. **Theta-compatible transactions** (the wire format a Theta wallet talks to). Types,
//!    codec, sign bytes and signatures are byte-for-byte those of Theta's Go ledger
//!    (`ledger/types/tx.go`, `serialization.go`) and of its JavaScript SDK
//!    `@thetalabs/theta-js`, checked against transactions theta-js signed
//!    (`tests/known_answer.rs`) and the sign bytes Theta's Go tests assert
//!    (`tests/theta_go.rs`).
//! 2. **State and execution** ([`Ledger`]): two-coin accounts, stake pools, reserves and
//!    a supply record in an `mpt-refcount` trie under readable key prefixes ([`state`]);
//!    Send, DepositStake/V2, WithdrawStake, ReserveFund, ServicePayment, ReleaseFund;
//!    blocks executed all or nothing; per-state validator and guardian sets; pruning by
//!    policy ([`PruningPolicy`]); Slash, whose double-signing or overspend evidence
//!    ([`slashing`]) is verified against the committee the ledger computes for the
//!    offence's height ([`Ledger::committee_at`]) and then takes the offender's stake or
//!    reserve; Coinbase, in a block executed with its consensus context
//!    ([`Ledger::execute_block_in`], [`BlockContext`]), crediting exactly
//!    [`Ledger::block_rewards`] ([`rewards`]: supply-rate issuance, validators by stake,
//!    the guardian lottery over the verified checkpoint aggregate); SplitRule, whose rule
//!    splits later ServicePayments for its resource; StakeRewardDistribution, whose rule
//!    splits the holder's guardian rewards. SmartContract is refused with
//!    [`Error::Unsupported`] until the EVM work.
//!
//! Light clients: [`proof`] proves an account or a reserve against a state root.
//!
//! State sync: [`snapshot`] exports a retained state as bounded, range-proved records
//! and imports it against a trusted checkpoint.
//!
//! ## Execution: the call order
//!
//! [`Genesis::from_json`] → [`Ledger::from_genesis`] (or [`Ledger::open`] at a committed
//! root) → per block [`Ledger::execute_block`]`(height, txs)`, or [`Ledger::begin_block`]
//! → [`Ledger::apply_tx`]… → [`Ledger::commit_block`] → [`Ledger::finalize`] when a
//! checkpoint is finalized. [`Ledger::check_tx`] is what a mempool asks (signatures,
//! sequence, fee, balance and every other rule) and changes nothing.
//!
//! Invariants (tested in `tests/execution*.rs`, `tests/staking*.rs`, `tests/pool.rs`,
//! `tests/pruning_props.rs`):
//!
//! * A transaction that returns an [`ExecError`] changed nothing; a block that returns
//!   one changed nothing ([`ExecError::InBlock`] names the transaction).
//! * The same block on the same state gives the same root.
//! * Supply: for each coin, balances + stakes + reserves = genesis + issued − burned −
//!   slashed ([`Supply`]). Fees are burned. Amount arithmetic is checked.
//! * A transaction's sequence is its signer's next one: replays are refused.
//! * The store keeps the last N states, every finalized checkpoint and every state at or
//!   above the last finalized height, and nothing else.
//!
//! ## The wire format: the model
//!
//! - [`Transaction`] is one of Theta's twelve types ([`TxType`], numbers 0..=11). Its
//!   wire bytes are `RLP(type number) ‖ RLP(struct)`, the struct an RLP list of Theta's
//!   fields in Theta's order; amounts are [`Coins`] `{theta_wei, tfuel_wei}` (`U256`).
//! - [`Transaction::decode`] takes untrusted bytes with a size limit and accepts only the
//!   one canonical encoding (no trailing bytes, exact field counts, minimal integers,
//!   signatures empty or 65 canonical bytes); errors are [`Error`] values, never panics.
//! - Each signer is a [`SignerRole`] naming one [`TxInput`] ([`Transaction::signers`]).
//!   It signs `keccak256` of [`Transaction::sign_bytes`]: `RLP(chain id) ‖ RLP(type) ‖
//!   RLP(struct with signatures emptied)` wrapped as the data of an all-zero Ethereum
//!   legacy transaction. Signatures travel as `r ‖ s ‖ v` with `v ∈ {0, 1}`
//!   ([`theta_signature_bytes`]); [`Transaction::verify`] recovers each signer and
//!   compares addresses.
//! - SmartContract (type 7) decodes and encodes; [`Transaction::check_supported`] refuses
//!   it with [`Error::Unsupported`] until the EVM work lands.
//! - [`json`] is the JSON shape of the `theta_tx` tool (`examples/theta_tx.rs`).
//!
//! ## The `theta_tx` tool
//!
//! ```text
//! theta_tx decode --chain-id ID             hex transactions on stdin, one per line
//!                                           → one JSON object per line on stdout
//! theta_tx sign --chain-id ID --key FILE [--key FILE …]
//!                                           JSON transactions on stdin, one per line
//!                                           → one hex transaction per line on stdout
//! ```
//!
//! `decode` prints the shapes of [`json::TxJson`] with `signature_valid` per signer, or
//! `{"error": "…"}` for a line that does not decode. `sign` reads the same shape
//! (`signature_valid` ignored; an input may carry an existing `"signature": "0x…"`),
//! signs every signer whose address matches one of the keys (a key file holds one
//! 32-byte secret key as hex, optional `0x`), and prints the transaction hex, or
//! `{"error": "…"}`. Blank lines are skipped; the exit status is 0 unless the command
//! line or stdin is unusable (2).
//!
//! ## Example
//!
//! ```
//! use ledger::{Coins, SendTx, SignerRole, Transaction, TxInput, TxOutput, MAX_TX_SIZE};
//! use primitives::{SecretKey, U256};
//!
//! let alice = SecretKey::from_bytes([0x11; 32])?;
//! let bob = SecretKey::from_bytes([0x22; 32])?;
//! let fee = Coins::new(U256::zero(), U256::from(300_000_000_000_000_000u64));
//! let amount = Coins::new(U256::from(10u64), U256::zero());
//! let mut tx = Transaction::Send(SendTx {
//!     fee,
//!     inputs: vec![TxInput::new(alice.address(), amount.checked_add(&fee).ok_or("overflow")?, 1)],
//!     outputs: vec![TxOutput::new(bob.address(), amount)],
//! });
//! tx.sign("privatenet", SignerRole::Input(0), &alice)?;
//!
//! let wire = tx.encode();
//! let back = Transaction::decode(&wire, MAX_TX_SIZE)?;
//! assert_eq!(back, tx);
//! back.verify_all("privatenet")?;
//! // The same bytes do not verify on another chain.
//! assert!(back.verify_all("mainnet").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Executing it on a ledger:
//!
//! ```
//! use ledger::*;
//! use mpt_refcount::MemoryStore;
//! use primitives::{SecretKey, U256};
//!
//! let alice = SecretKey::from_bytes([0x11; 32])?;
//! let bob = SecretKey::from_bytes([0x22; 32])?.address();
//! let genesis = Genesis::from_json(&format!(
//!     r#"{{"chain_id": "privatenet",
//!         "accounts": [{{"address": "{:?}", "theta": "1000", "tfuel": "1000000000000000000"}}]}}"#,
//!     alice.address()
//! ))?;
//! let config = LedgerConfig::theta("privatenet"); // Theta's fees and stake minimums
//! let mut ledger = Ledger::from_genesis(MemoryStore::new(), config, &genesis, PruningPolicy::default())?;
//!
//! let fee = Coins::new(U256::zero(), U256::from(THETA_MIN_TX_FEE));
//! let amount = Coins::new(U256::from(10u64), U256::zero());
//! let mut tx = Transaction::Send(SendTx {
//!     fee,
//!     inputs: vec![TxInput::new(alice.address(), amount.checked_add(&fee).ok_or("overflow")?, 1)],
//!     outputs: vec![TxOutput::new(bob, amount)],
//! });
//! tx.sign("privatenet", SignerRole::Input(0), &alice)?;
//! ledger.check_tx(&tx)?; // what a mempool asks
//!
//! let outcome = ledger.execute_block(1, &[tx.clone()])?;
//! assert_eq!(outcome.state_root, ledger.root());
//! assert_eq!(ledger.account(&bob)?.coins.theta_wei, U256::from(10u64));
//! assert_eq!(ledger.account(&alice.address())?.sequence, 1);
//! assert_eq!(outcome.fees_burned, fee);
//! // A replay is refused, and the refused block changes nothing.
//! let root = ledger.root();
//! assert!(matches!(ledger.execute_block(2, &[tx]), Err(ExecError::InBlock { index: 0, .. })));
//! assert_eq!(ledger.root(), root);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
pub mod eth;
mod exec;
mod genesis;
pub mod json;
mod ledger;
mod pool;
pub mod proof;
pub mod rewards;
mod sets;
mod sign;
pub mod slashing;
pub mod snapshot;
pub mod state;
pub mod tickets;
mod tx;

pub use config::{
    LedgerConfig, MAX_RESERVE_PAYEES, THETA_MAX_ACCOUNTS_PER_TX, THETA_MAX_VALIDATORS, THETA_MIN_TX_FEE,
    THETA_RETURN_LOCKING_PERIOD,
};
pub use error::{Error, ExecError};
pub use exec::{ReturnedStake, TxKind, TxReceipt, check_shape, verify_signatures};
pub use genesis::{Genesis, GenesisAccount, GenesisStake, MAX_GENESIS_BYTES};
pub use ledger::{BlockContext, BlockOutcome, Finality, Ledger, PruningPolicy, verify_batch};
pub use rewards::{
    BlockRewards, CheckpointGuardians, RewardConfig, RewardError, RewardInput, VerifiedAggregate,
    block_rewards, block_rewards_with, verify_coinbase,
};
pub use sets::{
    Guardian, Validator, checksum_hex, guardian_set, guardians, rank_candidates, validator_set, validators,
};
pub use sign::{
    SignatureCheck, SignerRole, Wrapper, parse_theta_signature, theta_signature_bytes, wrap_sign_bytes,
};
pub use slashing::{
    Committee, Offence, SlashConfig, SlashContext, SlashError, SlashEvidence, SlashOrder, verify_slash_tx,
};
pub use state::{Account, SplitRule, Stake, StakeHolder, Supply};
pub use tx::{
    BLS_POP_LEN, BLS_PUBKEY_LEN, CoinbaseTx, Coins, DepositStakeV2Tx, MAX_TX_SIZE, ReleaseFundTx,
    ReserveFundTx, STAKE_FOR_ELITE_EDGE_NODE, STAKE_FOR_GUARDIAN, STAKE_FOR_VALIDATOR, SendTx,
    ServicePaymentTx, SlashTx, SmartContractTx, Split, SplitRuleTx, StakeRewardDistributionTx, StakeTx,
    Transaction, TxInput, TxOutput, TxType,
};
