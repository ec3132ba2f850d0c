//! # orchestration: the Streamflow market
//!
//! Livepeer's Streamflow proposal moves job assignment off chain: broadcasters read a
//! service registry, ask orchestrators for a price and ticket parameters, pick whom to work
//! with, send work with probabilistic tickets (`pm-tickets`) and switch at once when one
//! fails. Orchestrators stake (their own and delegated), share rewards and fees with
//! delegators, and farm work out to transcoder pools verified with `transcode-verify`.
//! Theta's EdgeCloud sells the same capacity for other jobs, so the market is generic over
//! the [`job::JobKind`].
//!
//! No I/O: every type here is a pure state machine or data structure (DESIGN.md §2).
//!
//! ```
//! use orchestration::job::{Capability, Hardware, JobKind, VerificationPolicy};
//! use primitives::U256;
//!
//! let cap = Capability {
//!     kind: JobKind::Transcode { profile: "P720p30fps16x9".into(), hardware: Hardware::Gpu },
//!     price_per_unit: U256::from(2u8), // wei per output pixel
//!     verification: VerificationPolicy::Sampled { rate: 10 },
//! };
//! // One 2 s segment of 1280x720 at 30 fps is 55,296,000 output pixels.
//! assert_eq!(cap.price_of(1280 * 720 * 60), Some(U256::from(110_592_000u64)));
//! ```
#![forbid(unsafe_code)]

pub mod job;
pub mod registry;
pub mod slashing;
pub mod staking;
