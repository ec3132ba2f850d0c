//! Theta's resource-oriented micropayment pool (whitepaper v2.0, "Resource Oriented
//! Micropayment Pool", Figures 7 and 8), with the double-spend penalty the reference code
//! never enforced.
//!
//! # Model
//!
//! A viewer (the *source*) locks a **deposit** and a larger **collateral** on chain with
//! a [`ReserveFund`] transaction naming the resources it will pay for. It then pays any
//! number of caching peers off chain with **cumulative cheques** ([`SignedCheque`]): each
//! new cheque to a peer promises the running total and carries a higher `payment_seq`,
//! so the peer keeps only the newest. A peer settles on chain by countersigning its
//! newest cheque ([`ServicePayment`]) before the reserve's end height; it receives the
//! increase over what it settled before. After the end height plus a freeze period,
//! [`ReleaseFund`] returns what is left to the source.
//!
//! **\[beyond\]** Signing cheques that add up to more than the deposit is a slashable
//! fault: the settlement that finds the deposit short, or a [`ReportOverspend`] carrying
//! the source-signed cheques, slashes the reserve. The penalty (the collateral less a
//! compensation pool of half its excess over the deposit) is burned, or paid to the
//! reporter (see [`SlashDestination`]); the pool pays payees the deposit shorted; the
//! deposit and pool left are slashed at release, so the source never recovers
//! collateral after overspending. The source can neither report itself nor settle a
//! cheque to itself. Payees are paid first come, first served, in full while the
//! deposit (and then the pool) lasts; slashing never takes deposit that a valid cheque
//! can still claim.
//!
//! **Payee slots.** A payee's first settlement must promise at least the reserve's slot
//! unit `ceil(deposit / max_payees)` ([`PoolConfig::slot_unit`], [`ReservedFund::slot_unit`],
//! fixed when the reserve is made); a record holds at most
//! [`ReservedFund::slot_limit`] payees, at least `floor(deposit / slot_unit)` whatever the
//! chain's `max_payees` later becomes; empty settlements are refused. So the slots promise at least the whole deposit before they run out: while
//! the source's cheques add up to at most the deposit, every payee holding one of at
//! least a slot unit finds a slot and is paid in full, and a full record met by another
//! valid cheque proves an overspend. The honest [`Payer`] rounds its first cheque to each
//! peer up to the slot unit.
//!
//! # Call order
//!
//! * On chain (the ledger): [`execute`] (or [`reserve_fund`], [`settle`],
//!   [`release_fund`], [`report_overspend`]) at each block height over a [`PoolStore`].
//!   To check a block's signatures in parallel first, use [`verify_payments`] and
//!   [`settle_verified`] (which re-checks the chain id the payment was verified for).
//! * Off chain: the viewer runs a [`Payer`] machine and each caching peer a [`Payee`]
//!   machine (DESIGN.md section 2 shape). The payer's host persists [`Payer::state`]
//!   before sending its cheques and restarts with [`Payer::resume`]. The payee checks the
//!   pool with a [`StateProofVerifier`] at handshake, then accepts cheques and emits the
//!   settlement transaction when it should settle; it resubmits a settlement until the
//!   host reports it on chain ([`PayeeInput::Settled`] or a fresh handshake), settles at
//!   once on learning of a slash or overspend ([`PayeeInput::OverspendSeen`]), and drops
//!   a session after the reserve ends.
//!
//! # Invariants
//!
//! * Collateral > deposit for every unslashed reserve; `used <= deposit`.
//! * Per `(reserve, payee)`, settled `payment_seq` and promised amount never decrease;
//!   every slot promises at least the slot unit.
//! * Conservation: balances plus locked funds change only by fees and burned slashes
//!   ([`Receipt::fee`], [`Receipt::burned`]); per reserve, paid to payees + slashed +
//!   returned at release = deposit + collateral.
//! * An honest payer never signs more than its deposit in total ([`Payer`] refuses).
//!
//! # Example
//!
//! ```
//! use micropool::*;
//! use primitives::{SecretKey, U256};
//!
//! let cfg = PoolConfig::default();
//! let viewer = SecretKey::from_bytes([1; 32])?;
//! let peer = SecretKey::from_bytes([2; 32])?;
//! let mut store = MemoryStore::with_balances([(viewer.address(), U256::from(1_000u64))]);
//!
//! let reserve = ReserveFund {
//!     source: viewer.address(),
//!     reserve_seq: 1,
//!     resource_ids: vec![resource_id("stream/42")],
//!     deposit: U256::from(100u64),
//!     collateral: U256::from(101u64),
//!     duration: 300,
//!     fee: U256::zero(),
//!     signature: placeholder_signature(),
//! }
//! .signed(&viewer, cfg.chain_id);
//! reserve_fund(&mut store, &cfg, 10, &reserve)?;
//!
//! // Off chain: two cumulative cheques; only the newest is settled.
//! let cheque = |amount: u64, seq| Cheque {
//!     source: viewer.address(),
//!     reserve_seq: 1,
//!     target: peer.address(),
//!     resource_id: resource_id("stream/42"),
//!     amount: U256::from(amount),
//!     payment_seq: seq,
//! }
//! .sign(&viewer, cfg.chain_id);
//! let _first = cheque(10, 1);
//! let newest = cheque(25, 2);
//!
//! let pay = ServicePayment::countersign(newest, U256::zero(), &peer, cfg.chain_id);
//! let receipt = settle(&mut store, &cfg, 20, &pay)?;
//! assert_eq!(receipt.paid, U256::from(25u64));
//! assert_eq!(store.balance(&peer.address()), U256::from(25u64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod cheque;
mod config;
mod error;
mod payee;
mod payer;
mod proof;
mod record;
mod rules;
mod store;
mod tx;

pub use cheque::{
    CHEQUE_DOMAIN, Cheque, MAX_CHEQUE_BYTES, ResourceId, SignedCheque, resource_id, verify_batch,
};
pub use config::{PoolConfig, SlashDestination};
pub use error::{Error, ProofError, Role};
pub use payee::{Payee, PayeeConfig, PayeeContext, PayeeEvent, PayeeInput, PayeeOutput};
pub use payer::{MAX_PAYER_STATE_BYTES, Payer, PayerConfig, PayerEvent, PayerInput, PayerOutput, PayerState};
pub use primitives::Signer;
pub use proof::{MptSecureStateProof, MptStateProof, StateProofVerifier, ToyStateProof};
pub use record::{MAX_RECORD_BYTES, ReservedFund, TransferRecord, reserve_key};
pub use rules::{
    Receipt, Verified, execute, release_fund, release_fund_verified, report_overspend, reserve_fund,
    reserve_fund_verified, settle, settle_verified, verify_payments,
};
pub use store::{MemoryStore, PoolStore};
pub use tx::{
    MAX_TX_BYTES, MAX_TX_ITEMS, ReleaseFund, ReportOverspend, ReserveFund, SETTLE_DOMAIN, ServicePayment,
    Transaction, placeholder_signature,
};
