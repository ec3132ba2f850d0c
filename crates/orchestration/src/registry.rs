//! The service registry (Streamflow, "service registry"; Livepeer `ServiceRegistry` and the
//! transcoder fields of `BondingManager`): orchestrators advertise a service URI, their
//! capabilities, regions, `rewardCut` and `feeShare`; a configurable minimum stake (and an
//! optional cap on the set size) decides who may compete.
//!
//! `rewardCut` and `feeShare` are parts per million ([`PPM`]). A change to either is refused
//! in the last [`Rounds::lock_blocks`] blocks of a round, so delegators see the rates that
//! [`crate::staking::Staking::initialize_round`] commits for the next round before it starts.
//! Every other field may change at any time.

use std::collections::BTreeMap;

use primitives::{Address, U256};

use crate::job::{Capability, JobKind};

/// Parts per million: the denominator of `rewardCut` and `feeShare` (Livepeer's
/// `PERC_DIVISOR`).
pub const PPM: u32 = 1_000_000;

/// Round timing shared by the registry and staking: rounds are `length` blocks long, and
/// the last `lock_blocks` blocks of a round lock rate changes (Livepeer's
/// `roundLockAmount`, here in blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounds {
    /// Blocks per round; never zero.
    pub length: u64,
    /// Blocks at the end of a round in which `rewardCut`/`feeShare` cannot change; less
    /// than `length`.
    pub lock_blocks: u64,
}

impl Rounds {
    /// The round containing `block`, or `None` if `length` is zero.
    pub fn round_of(&self, block: u64) -> Option<u64> {
        block.checked_div(self.length)
    }

    /// Whether `block` is in the lock window at the end of its round.
    pub fn is_locked(&self, block: u64) -> bool {
        match block.checked_rem(self.length) {
            Some(pos) => pos >= self.length.saturating_sub(self.lock_blocks),
            None => true,
        }
    }

    fn validate(&self) -> Result<(), RegistryError> {
        if self.length == 0 || self.lock_blocks >= self.length {
            return Err(RegistryError::BadRounds { length: self.length, lock_blocks: self.lock_blocks });
        }
        Ok(())
    }
}

/// Registry limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Round timing (for the rate lock).
    pub rounds: Rounds,
    /// Bonded stake (own + delegated) an orchestrator needs to be in the active set.
    pub min_stake: U256,
    /// At most this many orchestrators compete (the largest stakes; Livepeer's
    /// `numActiveTranscoders`).
    pub max_active: usize,
    /// Longest service URI, in bytes.
    pub max_uri_len: usize,
    /// Most capabilities per record.
    pub max_capabilities: usize,
    /// Most regions per record.
    pub max_regions: usize,
    /// Longest region name, in bytes.
    pub max_region_len: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            rounds: Rounds { length: 5_760, lock_blocks: 576 },
            min_stake: U256::one(),
            max_active: 100,
            max_uri_len: 256,
            max_capabilities: 32,
            max_regions: 16,
            max_region_len: 32,
        }
    }
}

/// One orchestrator's advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRecord {
    /// The orchestrator's on-chain address (its stake and ticket recipient).
    pub orchestrator: Address,
    /// Where broadcasters reach it (e.g. `https://orch.example:8935`).
    pub service_uri: String,
    /// What it sells, at which unit price. Job kinds are unique within a record.
    pub capabilities: Vec<Capability>,
    /// Region names it serves (free-form, e.g. `"eu-west"`).
    pub regions: Vec<String>,
    /// Share of inflation rewards the orchestrator keeps, in ppm.
    pub reward_cut: u32,
    /// Share of fees paid to delegators, in ppm.
    pub fee_share: u32,
}

impl ServiceRecord {
    /// The capability offering `kind`, if any.
    pub fn capability(&self, kind: &JobKind) -> Option<&Capability> {
        self.capabilities.iter().find(|c| &c.kind == kind)
    }
}

/// Why the registry refused a call. A refused call changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The round timing is unusable.
    #[error("rounds of {length} blocks cannot lock the last {lock_blocks}")]
    BadRounds {
        /// Configured round length.
        length: u64,
        /// Configured lock window.
        lock_blocks: u64,
    },
    /// The zero address cannot register.
    #[error("the zero address cannot register")]
    ZeroOrchestrator,
    /// Empty service URI.
    #[error("empty service URI")]
    EmptyUri,
    /// Service URI over the limit.
    #[error("service URI of {len} bytes exceeds {max}")]
    UriTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A record must offer something.
    #[error("no capabilities")]
    NoCapabilities,
    /// Too many capabilities.
    #[error("{count} capabilities exceed {max}")]
    TooManyCapabilities {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Two capabilities name the same job kind.
    #[error("capability {index} repeats an earlier job kind")]
    DuplicateCapability {
        /// Index of the repeat.
        index: usize,
    },
    /// A capability's verification policy is malformed (sampled rate zero).
    #[error("capability {index} has an invalid verification policy")]
    InvalidVerification {
        /// Its index.
        index: usize,
    },
    /// Too many regions.
    #[error("{count} regions exceed {max}")]
    TooManyRegions {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A region name is empty or too long.
    #[error("region {index} has length {len}, allowed 1..={max}")]
    BadRegion {
        /// Its index.
        index: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `rewardCut` over 100%.
    #[error("rewardCut {got} ppm exceeds {PPM}")]
    RewardCutTooHigh {
        /// The value.
        got: u32,
    },
    /// `feeShare` over 100%.
    #[error("feeShare {got} ppm exceeds {PPM}")]
    FeeShareTooHigh {
        /// The value.
        got: u32,
    },
    /// `rewardCut`/`feeShare` set inside the lock window at the end of a round.
    #[error("rates are locked at block {block}: the last {lock_blocks} blocks of round {round}")]
    RatesLocked {
        /// The block of the call.
        block: u64,
        /// Its round.
        round: u64,
        /// The lock window.
        lock_blocks: u64,
    },
    /// `register` for an address already registered.
    #[error("{0:?} is already registered")]
    AlreadyRegistered(Address),
    /// The address is not registered.
    #[error("{0:?} is not registered")]
    NotRegistered(Address),
}

/// Bonded stake by orchestrator, as the staking state knows it.
pub trait StakeView {
    /// Own plus delegated stake bonded to `orchestrator` now (not counting unbonding locks).
    fn stake_of(&self, orchestrator: &Address) -> U256;
}

impl StakeView for BTreeMap<Address, U256> {
    fn stake_of(&self, orchestrator: &Address) -> U256 {
        self.get(orchestrator).copied().unwrap_or_default()
    }
}

/// The registry of orchestrators.
#[derive(Clone, Debug)]
pub struct Registry {
    config: RegistryConfig,
    records: BTreeMap<Address, ServiceRecord>,
}

impl Registry {
    /// An empty registry; refuses unusable round timing.
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        config.rounds.validate()?;
        Ok(Registry { config, records: BTreeMap::new() })
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// A registered record.
    pub fn get(&self, orchestrator: &Address) -> Option<&ServiceRecord> {
        self.records.get(orchestrator)
    }

    /// Every record, by address.
    pub fn records(&self) -> impl Iterator<Item = &ServiceRecord> {
        self.records.values()
    }

    /// Checks a record against the limits.
    pub fn validate(&self, r: &ServiceRecord) -> Result<(), RegistryError> {
        let c = &self.config;
        if r.orchestrator.is_zero() {
            return Err(RegistryError::ZeroOrchestrator);
        }
        if r.service_uri.is_empty() {
            return Err(RegistryError::EmptyUri);
        }
        if r.service_uri.len() > c.max_uri_len {
            return Err(RegistryError::UriTooLong { len: r.service_uri.len(), max: c.max_uri_len });
        }
        if r.capabilities.is_empty() {
            return Err(RegistryError::NoCapabilities);
        }
        if r.capabilities.len() > c.max_capabilities {
            return Err(RegistryError::TooManyCapabilities {
                count: r.capabilities.len(),
                max: c.max_capabilities,
            });
        }
        for (index, cap) in r.capabilities.iter().enumerate() {
            if !cap.verification.is_valid() {
                return Err(RegistryError::InvalidVerification { index });
            }
            if r.capabilities[..index].iter().any(|p| p.kind == cap.kind) {
                return Err(RegistryError::DuplicateCapability { index });
            }
        }
        if r.regions.len() > c.max_regions {
            return Err(RegistryError::TooManyRegions { count: r.regions.len(), max: c.max_regions });
        }
        for (index, region) in r.regions.iter().enumerate() {
            if region.is_empty() || region.len() > c.max_region_len {
                return Err(RegistryError::BadRegion { index, len: region.len(), max: c.max_region_len });
            }
        }
        if r.reward_cut > PPM {
            return Err(RegistryError::RewardCutTooHigh { got: r.reward_cut });
        }
        if r.fee_share > PPM {
            return Err(RegistryError::FeeShareTooHigh { got: r.fee_share });
        }
        Ok(())
    }

    fn check_rate_lock(&self, block: u64) -> Result<(), RegistryError> {
        let rounds = self.config.rounds;
        if rounds.is_locked(block) {
            return Err(RegistryError::RatesLocked {
                block,
                round: rounds.round_of(block).unwrap_or_default(),
                lock_blocks: rounds.lock_blocks,
            });
        }
        Ok(())
    }

    /// Registers a new orchestrator at `block` (refused in the rate lock window, since a
    /// registration sets rates).
    pub fn register(&mut self, record: ServiceRecord, block: u64) -> Result<(), RegistryError> {
        self.validate(&record)?;
        if self.records.contains_key(&record.orchestrator) {
            return Err(RegistryError::AlreadyRegistered(record.orchestrator));
        }
        self.check_rate_lock(block)?;
        self.records.insert(record.orchestrator, record);
        Ok(())
    }

    /// Replaces a registered orchestrator's record at `block`. A change to `reward_cut`
    /// or `fee_share` is refused in the lock window; URI, capabilities and regions may
    /// change at any block.
    pub fn update(&mut self, record: ServiceRecord, block: u64) -> Result<(), RegistryError> {
        self.validate(&record)?;
        let Some(old) = self.records.get(&record.orchestrator) else {
            return Err(RegistryError::NotRegistered(record.orchestrator));
        };
        if old.reward_cut != record.reward_cut || old.fee_share != record.fee_share {
            self.check_rate_lock(block)?;
        }
        self.records.insert(record.orchestrator, record);
        Ok(())
    }

    /// Removes an orchestrator (it stops competing; its stake stays bonded).
    pub fn deregister(&mut self, orchestrator: &Address) -> Result<ServiceRecord, RegistryError> {
        self.records.remove(orchestrator).ok_or(RegistryError::NotRegistered(*orchestrator))
    }

    /// The active set: registered orchestrators with at least `min_stake`, the
    /// `max_active` largest stakes, largest first (ties by address).
    pub fn active_set(&self, stakes: &impl StakeView) -> Vec<(Address, U256)> {
        let mut v: Vec<(Address, U256)> = self
            .records
            .keys()
            .map(|a| (*a, stakes.stake_of(a)))
            .filter(|(_, s)| *s >= self.config.min_stake && !s.is_zero())
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(self.config.max_active);
        v
    }

    /// Whether `orchestrator` is in the active set now.
    pub fn is_active(&self, orchestrator: &Address, stakes: &impl StakeView) -> bool {
        self.active_set(stakes).iter().any(|(a, _)| a == orchestrator)
    }

    /// Active orchestrators offering `kind`: their record, the matching capability and
    /// their stake, largest stake first.
    pub fn offering<'a>(
        &'a self,
        kind: &JobKind,
        stakes: &impl StakeView,
    ) -> Vec<(&'a ServiceRecord, &'a Capability, U256)> {
        self.active_set(stakes)
            .into_iter()
            .filter_map(|(a, stake)| {
                let r = self.records.get(&a)?;
                Some((r, r.capability(kind)?, stake))
            })
            .collect()
    }
}
