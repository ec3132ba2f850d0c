//! Multi-level BFT (Theta whitepaper v2.0, "Multi-Level BFT"; DESIGN.md section 4.3):
//! a small stake-weighted validator committee settles blocks with BLS commit
//! certificates, and thousands of guardians finalize every `T`-th settled block with
//! `bls-gossip`'s aggregated-signature gossip.
//!
//! # Model
//!
//! Time is divided into *epochs*. Each epoch has one proposer, drawn from the validator
//! set by stake with a keccak-seeded draw ([`ValidatorSet::proposer`]). The proposer
//! broadcasts a [`Proposal`]: a [`Block`] extending the block with the highest-epoch
//! commit certificate it knows, plus that certificate. Validators vote (BLS) at most once
//! per epoch; more than 2/3 of the stake voting for a block forms its
//! [`CommitCertificate`] (one 96-byte aggregate and a signer bitmap). A block is
//! **settled** when it and its child both have CCs in consecutive epochs; its ancestors
//! settle with it. Every [`Config::checkpoint_interval`] blocks the settled checkpoint
//! goes to the guardians ([`Event::Checkpoint`] with a [`SettlementProof`]); their
//! aggregate, checked through [`Context::verify_finality`], **finalizes** it. The rules
//! and the safety argument are in `docs/mlbft.md`.
//!
//! Layers, each testable alone (malachite-style):
//!
//! * [`types`](Block) and the [`Context`] trait — blocks, references, signed bytes.
//! * [`ValidatorSet`] with `U256` stake and the strict thresholds
//!   ([`exceeds_two_thirds`]: `3·voted > 2·total`, exact in 512 bits).
//! * [`VoteKeeper`] and [`EpochTally`] — stake-weighted tallies, each threshold event
//!   emitted once.
//! * [`Certificate`] — aggregate plus bitmap, `verify(set, message)` checks validity and
//!   quorum; generic over [`QuorumSet`] (validators or guardians).
//! * [`SetSchedule`] and [`BlockQuorum`] — validator-set changes over one validator
//!   universe (lag [`SET_CHANGE_LAG`]; joint certificates while a hand-over is open).
//! * [`Machine`] — the per-validator state machine in the workspace's sans-I/O shape.
//! * [`Evidence`] — two conflicting signed statements, verifiable alone, RLP codec.
//! * `sim` (feature `netsim`) — the netsim harness behind the `safety_sweep` example.
//!
//! # Call order
//!
//! `Machine::new(config, ctx, now, seed)` (or [`Machine::restore`] from the last
//! [`Output::Persist`]) → for each peer message `handle(now, Input::Message { from, msg
//! })` (decode bytes with [`Message::decode`] and explicit [`Limits`] first), and
//! `handle(now, Input::Timeout)` when [`Machine::poll_timeout`] is reached → drain
//! [`Machine::poll_output`] in order: **persist `Persist` before sending anything that
//! follows it**, then `Broadcast`/`Send`, answer `Request`s with a
//! [`Message::BlockResponse`], hand `Event::Checkpoint` to the guardians and
//! `Misbehaviour` to the ledger.
//!
//! # Invariants
//!
//! * With Byzantine stake below 1/3, no two honest validators settle different blocks at
//!   one height (checked after every event of the netsim sweep).
//! * An honest machine never signs two proposals or two votes in one epoch, across
//!   restarts from its persisted state.
//! * Peer input is hostile: every refused input returns a typed [`Error`] and changes
//!   nothing; memory for future epochs is bounded by [`Config::future_epochs`].
//! * Same inputs, same outputs (no randomness, ordered maps only).
//!
//! # Example
//!
//! Four validators, driven by hand until the first block settles.
//!
//! ```
//! use std::sync::Arc;
//! use bls_gossip::{Bls, Scheme};
//! use mlbft_core::{Config, Event, Input, Machine, Output, StaticContext, ValidatorSet};
//! use primitives::Timestamp;
//!
//! let keys: Vec<_> = (0..4u8).map(|i| Bls::keypair(&[i + 1; 32]).unwrap()).collect();
//! let set = Arc::new(ValidatorSet::<Bls>::equal_stake(keys.iter().map(|k| k.1).collect())?);
//! let mut nodes: Vec<_> = (0..4u32)
//!     .map(|i| {
//!         let ctx = StaticContext::new(set.clone(), Some((i, keys[i as usize].0.clone())));
//!         Machine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32])
//!     })
//!     .collect();
//!
//! // Deliver every broadcast to every other node, in order, until something settles.
//! let mut settled = None;
//! for step in 1..=20u64 {
//!     let now = Timestamp::from_millis(step * 50);
//!     let mut mail = Vec::new();
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         while let Some(out) = node.poll_output() {
//!             match out {
//!                 Output::Broadcast(msg) => mail.push((i, msg)),
//!                 Output::Event(Event::Settled { block }) => settled = Some(block),
//!                 _ => {}
//!             }
//!         }
//!     }
//!     for (from, msg) in mail {
//!         for (to, node) in nodes.iter_mut().enumerate() {
//!             if to != from {
//!                 node.handle(now, Input::Message { from: from as u32, msg: msg.clone() })?;
//!             }
//!         }
//!     }
//!     if settled.is_some() {
//!         break;
//!     }
//! }
//! assert_eq!(settled.map(|b| b.height), Some(1));
//! # Ok::<(), mlbft_core::Error>(())
//! ```
#![forbid(unsafe_code)]

mod certificate;
mod checkpoint;
mod context;
mod error;
mod evidence;
mod keeper;
mod machine;
mod message;
mod schedule;
#[cfg(feature = "netsim")]
pub mod sim;
mod types;
mod validators;

pub use certificate::{Certificate, CommitCertificate, MAX_MEMBERS, QuorumSet, SignerBitmap};
pub use checkpoint::{MAX_PROOF_HEADERS, SettlementProof, guardian_message};
pub use context::{Guardians, MAX_FINALITY_PROOF, StaticContext};
pub use error::Error;
pub use evidence::{Evidence, MAX_EVIDENCE_LEN, SignedStatement, StatementKind};
pub use keeper::{EpochTally, EpochThreshold, VoteKeeper, VoteOutcome};
pub use machine::{
    CATCH_UP_ANCESTORS, Config, Event, Input, MAX_PROVISIONAL, Machine, Output, PersistedState,
};
pub use message::{EpochChange, Limits, Message, Proposal, Vote};
pub use schedule::{BlockQuorum, MAX_QUORUM_SETS, SET_CHANGE_LAG, SetSchedule};
pub use types::{
    Block, BlockHeader, BlockRef, Checkpoint, Context, EPOCH_CHANGE_DOMAIN, PROPOSAL_DOMAIN, VOTE_DOMAIN,
    epoch_change_message, proposal_message, vote_message,
};
pub use validators::{KeyBytes, ValidatorIndex, ValidatorSet, exceeds_one_third, exceeds_two_thirds};
