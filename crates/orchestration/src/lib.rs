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
//! # Economics
//!
//! * [`registry`]: orchestrators advertise a service URI, capabilities, regions,
//!   `rewardCut` and `feeShare` (ppm); a minimum stake and a set size decide who
//!   competes; rate changes are locked in the last blocks of a round.
//! * [`staking`]: rounds, bonding (own and delegated), delegation changes, unbonding
//!   locks, rebonding, withdrawal; inflation split by `rewardCut`, fees by the `feeShare`
//!   committed for the ticket's round; cumulative factors make a claim O(1) in the rounds
//!   elapsed.
//! * [`slashing`]: verified fault evidence (a transcode claim re-checked with
//!   `transcode-verify`, or a compute result re-executed) slashes everything bonded to the
//!   orchestrator pro rata, pays the reporter a bonus and burns the rest, once per fault.
//!
//! Call order per round: [`staking::Staking::initialize_round`] (commits rates, takes the
//! active set), then any of `bond`/`unbond`/`rebond`/`withdraw_stake`/`claim`, each active
//! orchestrator's `reward`, `credit_fees` for redeemed tickets, and slashes.
//!
//! ```
//! use orchestration::job::{Capability, Hardware, JobKind, VerificationPolicy};
//! use orchestration::registry::{Registry, RegistryConfig, Rounds, ServiceRecord};
//! use orchestration::staking::{Staking, StakingConfig};
//! use primitives::{Address, U256};
//!
//! let rounds = Rounds { length: 100, lock_blocks: 10 };
//! let mut registry = Registry::new(RegistryConfig { rounds, ..RegistryConfig::default() })?;
//! let orch = Address::repeat_byte(1);
//! registry.register(ServiceRecord {
//!     orchestrator: orch,
//!     service_uri: "https://orch.example:8935".into(),
//!     capabilities: vec![Capability {
//!         kind: JobKind::Transcode { profile: "P720p30fps16x9".into(), hardware: Hardware::Gpu },
//!         price_per_unit: U256::from(2u8),
//!         verification: VerificationPolicy::Sampled { rate: 10 },
//!     }],
//!     regions: vec!["eu-west".into()],
//!     reward_cut: 100_000, // keeps 10% of rewards
//!     fee_share: 500_000,  // pays delegators 50% of fees
//! }, 0)?;
//! let config = StakingConfig { rounds, reward_per_round: U256::from(1_000_000u64), ..StakingConfig::default() };
//! let mut staking = Staking::new(config)?;
//! staking.initialize_round(100, &registry)?; // round 1
//! let delegator = Address::repeat_byte(2);
//! staking.bond(orch, orch, U256::from(1_000u64))?;
//! staking.bond(delegator, orch, U256::from(3_000u64))?;
//! staking.initialize_round(200, &registry)?; // round 2: the stake earns from now on
//! staking.reward(orch)?; // 100,000 kept, 900,000 shared by 4,000 earning
//! staking.credit_fees(orch, U256::from(8_000u64), 2)?; // a ticket issued in round 2
//! let p = staking.claim(delegator)?;
//! assert_eq!(p.earning, U256::from(3_000u64 + 675_000));
//! assert_eq!(p.fees, U256::from(3_000u64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Market
//!
//! * [`job`]: job kinds, capabilities and verification policies.
//! * [`negotiation`]: the [`negotiation::Broadcaster`] and [`negotiation::Orchestrator`]
//!   machines and their bounded wire codec ([`negotiation::Message`]): discovery, price
//!   and capacity checks, session tokens, segments with failover (at most 3 attempts),
//!   suspension of failing orchestrators, verification requests, payment in arrears with
//!   `pm-tickets`.
//! * [`selection`]: the multiplicative, sticky orchestrator score.
//! * [`pool`]: an orchestrator's transcoder pool, verifying public transcoders through
//!   `transcode-verify`'s verdict.
//!
//! The `market` example runs the whole market on `netsim` (see `docs/orchestration.md`).
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
pub mod negotiation;
pub mod pool;
pub mod registry;
pub mod selection;
pub mod slashing;
pub mod staking;
