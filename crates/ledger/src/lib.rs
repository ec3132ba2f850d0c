//! # ledger — Theta's dual-currency ledger, starting with its wire format
//!
//! This first layer of issue 17 is the part a Theta wallet talks to: **Theta-compatible
//! transactions**. Types, codec, sign bytes and signatures are byte-for-byte those of
//! Theta's Go ledger (`ledger/types/tx.go`, `serialization.go`) and of its JavaScript
//! SDK `@thetalabs/theta-js`, checked against transactions theta-js signed
//! (`tests/known_answer.rs`) and the sign bytes Theta's Go tests assert
//! (`tests/theta_go.rs`). Accounts, staking, rewards, execution, pruning and state
//! sync are not built yet; see `docs/ledger.md`.
//!
//! ## The model
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
#![forbid(unsafe_code)]

mod config;
mod error;
mod exec;
mod genesis;
pub mod json;
mod ledger;
mod pool;
mod sets;
mod sign;
pub mod state;
mod tx;

pub use config::{
    LedgerConfig, THETA_MAX_ACCOUNTS_PER_TX, THETA_MAX_VALIDATORS, THETA_MIN_TX_FEE,
    THETA_RETURN_LOCKING_PERIOD,
};
pub use error::{Error, ExecError};
pub use exec::{ReturnedStake, TxReceipt, check_enabled, verify_signatures};
pub use genesis::{Genesis, GenesisAccount, GenesisStake, MAX_GENESIS_BYTES};
pub use ledger::{BlockOutcome, Ledger, PruningPolicy, verify_batch};
pub use sets::{
    Guardian, Validator, checksum_hex, guardian_set, guardians, rank_candidates, validator_set, validators,
};
pub use sign::{
    SignatureCheck, SignerRole, Wrapper, parse_theta_signature, theta_signature_bytes, wrap_sign_bytes,
};
pub use state::{Account, Stake, StakeHolder, Supply};
pub use tx::{
    BLS_POP_LEN, BLS_PUBKEY_LEN, CoinbaseTx, Coins, DepositStakeV2Tx, MAX_TX_SIZE, ReleaseFundTx,
    ReserveFundTx, STAKE_FOR_ELITE_EDGE_NODE, STAKE_FOR_GUARDIAN, STAKE_FOR_VALIDATOR, SendTx,
    ServicePaymentTx, SlashTx, SmartContractTx, Split, SplitRuleTx, StakeRewardDistributionTx, StakeTx,
    Transaction, TxInput, TxOutput, TxType,
};
