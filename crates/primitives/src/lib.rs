//! Shared primitives of the meshcast workspace.
//!
//! Two layers:
//!
//! * Always available, dependency-light: [`Timestamp`] (logical milliseconds handed in by
//!   the host) and the [`Machine`] trait, the one sans-I/O shape every protocol machine
//!   has (DESIGN.md section 2); SCALE frame codecs with size limits ([`codec`]).
//! * Feature `eth` (default): Ethereum-compatible types — [`H160`], [`H256`], [`U256`]
//!   from `primitive-types`, [`keccak256`], RLP (re-exported as [`rlp`]) with a
//!   size-limited decoder, 20-byte [`Address`]es, secp256k1 recoverable [`Signature`]s
//!   (65 bytes `r ‖ s ‖ v`, low-S only, signer recovery) and the EIP-191
//!   personal-message digest.
//!
//! Amounts are [`U256`] base units (1 token = 10^18, [`TOKEN`]); use the checked
//! operations (`checked_add`, `checked_sub`, `checked_mul`), never wrapping ones.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "eth")]
//! # fn main() -> Result<(), primitives::Error> {
//! use primitives::{SecretKey, Signature, keccak256};
//!
//! let key = SecretKey::from_hex(
//!     "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
//! )?;
//! let digest = keccak256(b"settle block 42");
//! let sig: Signature = key.sign_prehash(&digest);
//!
//! // The wire form is 65 bytes with v in {27, 28}; parsing enforces low-S.
//! let back = Signature::from_bytes(&sig.to_bytes())?;
//! assert_eq!(back.recover(&digest)?, key.address());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "eth"))]
//! # fn main() {}
//! ```
#![forbid(unsafe_code)]

pub mod codec;
mod error;
mod machine;
mod time;

#[cfg(feature = "eth")]
mod hash;
#[cfg(feature = "eth")]
mod signature;

pub use error::Error;
pub use machine::Machine;
pub use time::Timestamp;

#[cfg(feature = "eth")]
pub use hash::{EMPTY_TRIE_ROOT, KECCAK_EMPTY, keccak256, keccak256_concat};
#[cfg(feature = "eth")]
pub use primitive_types::{H160, H256, U256};
#[cfg(feature = "eth")]
pub use rlp;
#[cfg(feature = "eth")]
pub use signature::{Address, PublicKey, SecretKey, Signature, Signer, eip191_hash};

/// One whole token in base units (10^18), for both currencies.
#[cfg(feature = "eth")]
pub const TOKEN: U256 = U256([1_000_000_000_000_000_000, 0, 0, 0]);
