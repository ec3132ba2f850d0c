//! BLS aggregation and the aggregated-signature gossip that lets thousands of guardians
//! finalize a checkpoint (Theta whitepaper v2.0, section 5.2; DESIGN.md sections 3, 4.2).
//!
//! # Model
//!
//! Every guardian signs the same checkpoint message ([`checkpoint_message`]). An
//! *aggregate* is `(c, σ)`: a [`SignerVector`] `c` of multiplicities per guardian index and
//! a signature `σ`; it is valid iff `e(σ, g1) = e(H(m), Σ c_u·pk_u)`. Each guardian runs a
//! [`GossipMachine`]: it starts with its own signature (`c = e_i`), and every round sends
//! its aggregate to its neighbours, batch-verifies what arrived (weights keyed by its
//! secret seed and the batch contents), merges what adds signers (`σ ← σ·σ_j`,
//! `c ← c + c_j`), checks the merged aggregate on its own, and reports
//! [`Event::Finalized`] once the distinct signers hold more than 2/3 of the stake. Naive broadcast is O(n²) messages; the gossip
//! needs O(log n) rounds of d messages per guardian.
//!
//! Layers, each usable alone:
//!
//! * [`bls`] — a narrow wrapper over `blst::min_pk` (pk 48 B in G1, signature 96 B in G2,
//!   IETF `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`): `KeyGen`, sign, verify, proof
//!   of possession, aggregate, fast aggregate verify, the weighted key `Σ c_u·pk_u` as one
//!   multi-scalar multiplication, batch verification with random weights folded into the
//!   per-key scalars (one MSM, two pairings), and bisection to name bad aggregates.
//! * [`Scheme`] — what the machine needs from a signature scheme: [`Bls`], or
//!   `FakeScheme` (feature `fake-crypto`, insecure: linear over the prime field
//!   `2^64 − 59`, so its batch check is as sound as BLS's) for fast tests and large
//!   simulations.
//! * [`SignerVector`] — multiplicities (bounded by [`MAX_MULTIPLICITY`]; merges are
//!   checked, never overflow) with a compact canonical encoding and a size-limited decoder.
//! * [`GuardianSet`], [`GossipMessage`], [`GossipMachine`].
//!
//! # Call order
//!
//! 1. Build a [`GuardianSet`] from PoP-checked keys and stakes (once per guardian set).
//! 2. Per checkpoint: sign [`checkpoint_message`], make a [`Context`] (instance, set,
//!    message, own index and signature, neighbours), `GossipMachine::new(config, ctx, now,
//!    seed)` with a **secret** `seed`: 32 fresh bytes from the host's CSPRNG (the OS) per
//!    machine. It keys the batch-verification weights; a seed peers can predict lets
//!    Byzantine peers craft pieces that cancel in a batch (security requirement; see
//!    [`GossipMachine::new`]).
//! 3. Loop: feed [`Input::Message`] (decode peer bytes with [`GossipMessage::decode`] and
//!    an explicit size limit first) and [`Input::Timeout`] when [`GossipMachine::poll_timeout`]
//!    is reached; drain [`GossipMachine::poll_output`]: `Send` (encode and transmit),
//!    `Event::Finalized`, `Misbehaviour` (an invalid aggregate came over that peer's link:
//!    score the peer down or disconnect it; it carries nothing the peer signed, so it is
//!    **not** slashing evidence — see [`Misbehaviour`]).
//!
//! # Invariants
//!
//! * An honest machine adopts, sends and finalizes only an aggregate that passed a plain
//!   verification of its own (after the batch check of its pieces), so every `Finalized`
//!   carries a valid aggregate whose distinct signers hold `> 2/3` of stake — whatever
//!   Byzantine peers send, even if they predict the batch weights (tested under proptest
//!   and netsim, with real BLS for small sets).
//! * A [`GuardianSet`] holds each key once ([`Error::DuplicateKey`]).
//! * Multiplicities never exceed [`Config::max_multiplicity`] (≤ 255).
//! * Same seed and same inputs give the same outputs.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use bls_gossip::{Bls, Context, Config, Event, GossipMachine, GuardianSet, Input, Output,
//!                  Scheme, checkpoint_message};
//! use primitives::Timestamp;
//!
//! // Four guardians with equal stake; keys from input key material.
//! let keys: Vec<_> = (0..4u8).map(|i| Bls::keypair(&[i + 1; 32]).unwrap()).collect();
//! let set = Arc::new(GuardianSet::<Bls>::equal_stake(keys.iter().map(|k| k.1).collect())?);
//! let msg: Arc<[u8]> = checkpoint_message(100, &[7; 32], &[9; 32]).into();
//!
//! // A complete graph: everyone is everyone's neighbour.
//! // Each machine's seed is a secret from the OS CSPRNG (a security requirement).
//! fn os_seed() -> [u8; 32] {
//!     use rand::TryRngCore;
//!     let mut seed = [0u8; 32];
//!     rand::rngs::OsRng.try_fill_bytes(&mut seed).expect("OS randomness");
//!     seed
//! }
//! let mut nodes: Vec<GossipMachine<Bls>> = (0..4)
//!     .map(|i| {
//!         let sig = Bls::sign(&keys[i].0, &msg);
//!         let ctx = Context::new(100, set.clone(), msg.clone(), Some((i, sig)),
//!                                (0..4).collect()).unwrap();
//!         GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, os_seed())
//!     })
//!     .collect();
//!
//! let mut finalized = 0;
//! for round in 0..3u64 {
//!     let now = Timestamp::from_millis(round * 200);
//!     let mut mail = Vec::new();
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         node.handle(now, Input::Timeout)?;
//!         while let Some(out) = node.poll_output() {
//!             match out {
//!                 Output::Send { to, msg } => mail.extend(to.into_iter().map(|j| (i, j, msg.clone()))),
//!                 Output::Event(Event::Finalized { aggregate, .. }) => {
//!                     assert!(aggregate.verify(set.keys(), &msg)?);
//!                     finalized += 1;
//!                 }
//!                 Output::Misbehaviour(_) => unreachable!("everyone is honest"),
//!             }
//!         }
//!     }
//!     for (from, to, m) in mail {
//!         nodes[to].handle(now + 50, Input::Message { from, msg: m })?;
//!     }
//! }
//! assert_eq!(finalized, 4);
//! # Ok::<(), bls_gossip::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod bls;
mod error;
mod guardians;
mod machine;
mod message;
mod scheme;
mod signers;
#[cfg(feature = "netsim")]
pub mod sim;
mod varint;

pub use error::Error;
pub use guardians::{GuardianSet, exceeds_two_thirds};
pub use machine::{Config, Context, Event, GossipMachine, Input, Misbehaviour, Output, Stats};
pub use message::{
    Aggregate, CHECKPOINT_DOMAIN, GossipMessage, WIRE_VERSION, checkpoint_message, namespaced,
};
pub use scheme::{Bls, Scheme, WIRE_SIGNATURE_LEN};
#[cfg(feature = "fake-crypto")]
pub use scheme::{FakePublicKey, FakeScheme, FakeSecretKey, FakeSignature};
pub use signers::{MAX_MULTIPLICITY, SignerVector};

/// Lower-case hex (for `Debug` output and tools).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
