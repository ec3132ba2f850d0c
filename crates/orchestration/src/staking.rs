//! Rounds, bonding, delegation, unbonding locks, rebonding, inflation rewards split by
//! `rewardCut`, fees split by `feeShare`, with cumulative factors so a delegator's claim
//! costs the same whatever the number of rounds elapsed (Streamflow, "delegation and
//! rewards"; Livepeer `BondingManager` with LIP-36 `cumulativeRewardFactor` /
//! `cumulativeFeeFactor`, `EarningsPoolLIP36`, unbonding locks and `rebond`).
//!
//! # Model
//!
//! Each orchestrator has a pool. A delegator (the orchestrator itself included: its own
//! stake is a self-delegation) holds at most two tranches in its delegate's pool:
//!
//! * an **earning** tranche: `amount` at start factors `(S₀, F₀)`; its stake now is
//!   `amount · S / S₀` and its unclaimed fees `amount · (F − F₀) / S₀`;
//! * a **pending** tranche: stake bonded (or rebonded, or moved in) during round `r`,
//!   which earns from round `r + 1` on, like Livepeer's stake that counts from the next
//!   round. In round `r` it is only exposed to slashing (factor `K`).
//!
//! The pool keeps three cumulative factors, all scaled by [`FACTOR_SCALE`]:
//!
//! * `S`, the stake factor: a reward of `d` to delegators over earning stake `E`
//!   multiplies it by `(E + d) / E`; a slash of fraction `f` multiplies it by `1 − f`;
//! * `F`, the fee factor: fees `φ` to delegators add `φ · S / E`;
//! * `K`, the slash factor: multiplied by `1 − f` on a slash; pending tranches and
//!   unbonding locks scale by it.
//!
//! A pending tranche of round `r` converts at the factors the pool had at the end of
//! round `r`, which the pool records once per round in which its factors changed (one
//! entry per round, like Livepeer's per-round `EarningsPool`), so every claim is a
//! constant number of multiplications plus one ordered-map lookup.
//!
//! # Rounding
//!
//! Every product is floored (`a · b / c` in 512 bits). A factor is floored after each
//! update, so the factor never grows by more than the exact ratio; every delegator's
//! stake and fees are floored. Hence the stakes of all delegators sum to at most the
//! pool's total and the fees they claim to at most what was credited to the pool: the
//! dust left over never exceeds what was minted or earned and stays in the pool.
//! [`Staking::totals`] keeps the books: pool totals equal bonded + minted − withdrawn −
//! slashed exactly.
//!
//! # Fee-theft defences
//!
//! * Rates are committed per round at [`Staking::initialize_round`] from the registry
//!   (where changes are locked in the last blocks of a round), and
//!   [`Staking::credit_fees`] settles a ticket at the `feeShare` committed for the round
//!   the ticket was issued in, not the one in force when it is redeemed: an orchestrator
//!   cannot raise its cut between issuing and redeeming.
//! * Fees are accepted only for tickets inside the validity window, which `pm-tickets`
//!   requires to be no longer than the sender's unlock period
//!   ([`pm_tickets::BrokerConfig::validate`]), so every ticket is redeemable before the
//!   sender's deposit unlocks.

use std::collections::BTreeMap;

use primitives::{Address, U256};

use crate::registry::{PPM, Registry, Rounds, StakeView};

/// The scale of the cumulative factors: 10²⁷ (Livepeer's `PreciseMathUtils`).
pub const FACTOR_SCALE: U256 = U256([0x9fd0_803c_e800_0000, 0x0000_0000_033b_2e3c, 0, 0]);

/// Below this, a factor has lost too much precision: a slash that would take `S` or `K`
/// under it burns the whole pool and starts a new generation instead.
pub const MIN_FACTOR: U256 = U256([1_000_000_000, 0, 0, 0]);

/// Most unbonding locks one delegator may hold at once.
pub const MAX_LOCKS: usize = 64;

/// Staking parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StakingConfig {
    /// Round timing; must equal the registry's.
    pub rounds: Rounds,
    /// Rounds between `unbond` and the first round the lock can be withdrawn.
    pub unbonding_period: u64,
    /// Tokens minted per round, shared by the active orchestrators by stake.
    pub reward_per_round: U256,
    /// A ticket created in round `r` earns fees while `r + ticket_validity_period >
    /// current round` (the broker's `ticketValidityPeriod`).
    pub ticket_validity_period: u64,
}

impl Default for StakingConfig {
    fn default() -> Self {
        StakingConfig {
            rounds: Rounds { length: 5_760, lock_blocks: 576 },
            unbonding_period: 7,
            reward_per_round: U256::from(1_000_000_000_000_000_000_000u128),
            ticket_validity_period: 2,
        }
    }
}

impl StakingConfig {
    /// Checks that `broker` fits: its own rules hold (unlock period at least the ticket
    /// validity period, so tickets are redeemable before a deposit unlocks) and its
    /// ticket validity period is the one fees are accepted for here.
    pub fn check_broker(&self, broker: &pm_tickets::BrokerConfig) -> Result<(), StakingError> {
        broker.validate().map_err(|e| StakingError::Broker { reason: e.to_string() })?;
        if broker.ticket_validity_period != self.ticket_validity_period {
            return Err(StakingError::Broker {
                reason: format!(
                    "ticket validity {} rounds, staking expects {}",
                    broker.ticket_validity_period, self.ticket_validity_period
                ),
            });
        }
        Ok(())
    }
}

/// An orchestrator's rates as committed for a round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    /// Share of rewards the orchestrator keeps, ppm.
    pub reward_cut: u32,
    /// Share of fees paid to delegators, ppm.
    pub fee_share: u32,
}

/// Why a staking call was refused. A refused call changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    /// The configuration is unusable.
    #[error("bad staking configuration: {reason}")]
    BadConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// The registry uses other round timing.
    #[error("the registry's rounds {registry:?} differ from staking's {staking:?}")]
    RoundsMismatch {
        /// Registry's.
        registry: Rounds,
        /// Staking's.
        staking: Rounds,
    },
    /// No round initialized yet.
    #[error("no round initialized")]
    NotInitialized,
    /// `initialize_round` for a round not after the current one.
    #[error("round {got} does not follow round {current}")]
    RoundNotIncreasing {
        /// The current round.
        current: u64,
        /// The round asked for.
        got: u64,
    },
    /// The zero address.
    #[error("zero address")]
    ZeroAddress,
    /// A zero amount where one is needed.
    #[error("zero amount")]
    ZeroAmount,
    /// Arithmetic overflow (amounts or factors beyond `U256`).
    #[error("arithmetic overflow")]
    Overflow,
    /// The delegator has no bonded stake.
    #[error("{0:?} has no bonded stake")]
    NotBonded(Address),
    /// Unbonding more than is bonded.
    #[error("unbonding {requested} of {bonded} bonded")]
    InsufficientBond {
        /// Bonded now.
        bonded: U256,
        /// Asked for.
        requested: U256,
    },
    /// No such unbonding lock.
    #[error("{delegator:?} has no unbonding lock {id}")]
    UnknownLock {
        /// The delegator.
        delegator: Address,
        /// The lock id.
        id: u64,
    },
    /// The lock's period has not passed.
    #[error("lock withdrawable from round {withdraw_round}, now {current_round}")]
    LockNotExpired {
        /// First round it can be withdrawn.
        withdraw_round: u64,
        /// The current round.
        current_round: u64,
    },
    /// The lock was burned by a slash that took the whole pool.
    #[error("the lock was slashed to nothing")]
    NothingToRebond,
    /// `rebond_to` another orchestrator while still bonded.
    #[error("still bonded to {delegate:?}; rebond to it or unbond fully first")]
    StillBonded {
        /// The current delegate.
        delegate: Address,
    },
    /// Too many unbonding locks.
    #[error("at most {max} unbonding locks")]
    TooManyLocks {
        /// The limit.
        max: usize,
    },
    /// The orchestrator is not in this round's active set.
    #[error("{orchestrator:?} is not active in round {round}")]
    NotActive {
        /// The orchestrator.
        orchestrator: Address,
        /// The round.
        round: u64,
    },
    /// Reward already called this round.
    #[error("{orchestrator:?} already rewarded in round {round}")]
    AlreadyRewarded {
        /// The orchestrator.
        orchestrator: Address,
        /// The round.
        round: u64,
    },
    /// An orchestrator must be bonded to itself to collect rewards.
    #[error("{0:?} is not bonded to itself")]
    NotSelfBonded(Address),
    /// Fees for a ticket outside the validity window.
    #[error(
        "ticket of round {ticket_round} outside the window at round {current_round} (valid {validity} rounds)"
    )]
    TicketOutsideWindow {
        /// The ticket's creation round.
        ticket_round: u64,
        /// The current round.
        current_round: u64,
        /// The validity period.
        validity: u64,
    },
    /// The orchestrator had no rates committed for the ticket's round (not registered then).
    #[error("{orchestrator:?} had no committed rates in round {round}")]
    NoCommittedRates {
        /// The orchestrator.
        orchestrator: Address,
        /// The round.
        round: u64,
    },
    /// The ticket broker's configuration does not fit staking's.
    #[error("broker: {reason}")]
    Broker {
        /// What does not fit.
        reason: String,
    },
    /// A slash fraction outside `1..=PPM`.
    #[error("slash fraction {ppm} ppm outside 1..={PPM}")]
    BadFraction {
        /// The fraction.
        ppm: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Factors {
    s: U256,
    f: U256,
    k: U256,
}

impl Factors {
    const INITIAL: Factors = Factors { s: FACTOR_SCALE, f: U256([0; 4]), k: FACTOR_SCALE };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tranche {
    amount: U256,
    start: Factors,
    generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    amount: U256,
    round: u64,
    k0: U256,
    generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lock {
    orchestrator: Address,
    amount: U256,
    k0: U256,
    generation: u64,
    withdraw_round: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Delegator {
    delegate: Option<Address>,
    earning: Option<Tranche>,
    pending: Option<Pending>,
    fees: U256,
    locks: BTreeMap<u64, Lock>,
    next_lock: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pool {
    generation: u64,
    earning: U256,
    pending: U256,
    pending_round: u64,
    unbonding: U256,
    cum: Factors,
    cum_round: u64,
    /// Factors at the end of round `r` of generation `g`, for every round in which they
    /// changed (except the latest, which is `cum`).
    history: BTreeMap<(u64, u64), Factors>,
    /// Final factors and last round of wiped generations.
    retired: BTreeMap<u64, (u64, Factors)>,
    rates: BTreeMap<u64, Rates>,
    rewarded_round: Option<u64>,
    /// Live tranches: earning, pending (of `pending_round`), unbonding locks. A total
    /// whose count is zero holds only rounding dust and is swept.
    tranches: [u64; 3],
}

impl Pool {
    fn new(round: u64) -> Self {
        Pool {
            generation: 0,
            earning: U256::zero(),
            pending: U256::zero(),
            pending_round: round,
            unbonding: U256::zero(),
            cum: Factors::INITIAL,
            cum_round: round,
            history: BTreeMap::new(),
            retired: BTreeMap::new(),
            rates: BTreeMap::new(),
            rewarded_round: None,
            tranches: [0; 3],
        }
    }

    /// Pending stake of earlier rounds starts earning. (Earning plus pending never
    /// exceeds bonded + minted, whose sums are checked, so the addition cannot saturate.)
    fn roll(&mut self, round: u64) {
        if self.pending_round < round {
            self.earning = self.earning.saturating_add(std::mem::take(&mut self.pending));
            self.tranches[0] = self.tranches[0].saturating_add(self.tranches[1]);
            self.tranches[1] = 0;
        }
    }

    /// Moves totals no tranche holds (rounding dust) out of the pool; returns them.
    fn sweep(&mut self) -> U256 {
        let mut dust = U256::zero();
        for (count, total) in
            self.tranches.iter().zip([&mut self.earning, &mut self.pending, &mut self.unbonding])
        {
            if *count == 0 {
                dust = dust.saturating_add(std::mem::take(total));
            }
        }
        dust
    }

    /// Records the end-of-round factors before the first change in a new round.
    fn touch(&mut self, round: u64) {
        if self.cum_round < round {
            self.history.insert((self.generation, self.cum_round), self.cum);
            self.cum_round = round;
        }
    }

    /// The factors now for generation `generation`.
    fn now(&self, generation: u64) -> Factors {
        if generation == self.generation {
            self.cum
        } else {
            self.retired.get(&generation).map_or(Factors::INITIAL, |r| r.1)
        }
    }

    /// The factors at the end of round `round` of generation `generation` (`round` before the
    /// current round, or at or after the generation's last change).
    fn end_of(&self, generation: u64, round: u64) -> Factors {
        let (last_round, last) = if generation == self.generation {
            (self.cum_round, self.cum)
        } else {
            self.retired.get(&generation).copied().unwrap_or((0, Factors::INITIAL))
        };
        if round >= last_round {
            return last;
        }
        self.history
            .range((generation, 0)..=(generation, round))
            .next_back()
            .map_or(Factors::INITIAL, |(_, f)| *f)
    }

    fn rates_at(&self, round: u64) -> Option<Rates> {
        self.rates.range(..=round).next_back().map(|(_, r)| *r)
    }
}

/// `a · b / c`, floored, with a 512-bit intermediate.
fn mul_div(a: U256, b: U256, c: U256) -> Result<U256, StakingError> {
    if c.is_zero() {
        return Err(StakingError::Overflow);
    }
    let q = a.full_mul(b) / primitive_types::U512::from(c);
    U256::try_from(q).map_err(|_| StakingError::Overflow)
}

fn add(a: U256, b: U256) -> Result<U256, StakingError> {
    a.checked_add(b).ok_or(StakingError::Overflow)
}

/// A delegator's settled position, as of now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The orchestrator it is bonded to, if any.
    pub delegate: Option<Address>,
    /// Stake earning this round.
    pub earning: U256,
    /// Stake bonded this round, earning from the next.
    pub pending: U256,
    /// Fees earned and not yet withdrawn.
    pub fees: U256,
}

impl Position {
    /// Earning plus pending stake.
    pub fn bonded(&self) -> U256 {
        self.earning.saturating_add(self.pending)
    }
}

/// An unbonding lock as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockView {
    /// The orchestrator unbonded from (its slashes still apply).
    pub orchestrator: Address,
    /// Its amount now (after any slash).
    pub amount: U256,
    /// First round it can be withdrawn.
    pub withdraw_round: u64,
}

/// An orchestrator's pool totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolView {
    /// Stake earning this round.
    pub earning: U256,
    /// Stake bonded this round.
    pub pending: U256,
    /// Stake in unbonding locks from this pool.
    pub unbonding: U256,
}

/// What one `reward` call minted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewardOutcome {
    /// Kept by the orchestrator (`rewardCut`), bonded to it as pending stake.
    pub orchestrator: U256,
    /// Added to the delegators' stake.
    pub delegators: U256,
}

/// How fees were split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeeOutcome {
    /// To the orchestrator's fee balance.
    pub orchestrator: U256,
    /// Shared by the earning delegators.
    pub delegators: U256,
    /// The `feeShare` applied (committed for the ticket's round).
    pub fee_share: u32,
}

/// What a slash took from a pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slashed {
    /// From earning stake.
    pub earning: U256,
    /// From pending stake.
    pub pending: U256,
    /// From unbonding locks.
    pub unbonding: U256,
}

impl Slashed {
    /// Everything taken.
    pub fn total(&self) -> U256 {
        self.earning.saturating_add(self.pending).saturating_add(self.unbonding)
    }
}

/// The books: every token in and out of the staking state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Bonded from outside.
    pub bonded: U256,
    /// Minted as rewards.
    pub minted: U256,
    /// Withdrawn from expired locks.
    pub withdrawn: U256,
    /// Slashed (bonus and burn).
    pub slashed: U256,
    /// Rounding dust swept out of pools once no tranche held it (it stays unminted
    /// value nobody can claim).
    pub dust: U256,
    /// Fees credited.
    pub fees_in: U256,
    /// Fees credited to pools for delegators (part of `fees_in`).
    pub fees_to_delegators: U256,
    /// Fees withdrawn.
    pub fees_out: U256,
}

/// The staking state machine.
#[derive(Clone, Debug)]
pub struct Staking {
    config: StakingConfig,
    current_round: u64,
    initialized: bool,
    pools: BTreeMap<Address, Pool>,
    delegators: BTreeMap<Address, Delegator>,
    active: BTreeMap<Address, U256>,
    active_total: U256,
    totals: Totals,
}

impl StakeView for Staking {
    fn stake_of(&self, orchestrator: &Address) -> U256 {
        self.pools.get(orchestrator).map_or(U256::zero(), |p| p.earning.saturating_add(p.pending))
    }
}

impl Staking {
    /// A staking state with no round initialized.
    pub fn new(config: StakingConfig) -> Result<Self, StakingError> {
        if config.rounds.length == 0 || config.rounds.lock_blocks >= config.rounds.length {
            return Err(StakingError::BadConfig {
                reason: "round length zero or lock window not inside the round",
            });
        }
        if config.ticket_validity_period == 0 {
            return Err(StakingError::BadConfig { reason: "ticket validity period zero" });
        }
        Ok(Staking {
            config,
            current_round: 0,
            initialized: false,
            pools: BTreeMap::new(),
            delegators: BTreeMap::new(),
            active: BTreeMap::new(),
            active_total: U256::zero(),
            totals: Totals::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StakingConfig {
        &self.config
    }

    /// The current round.
    pub fn current_round(&self) -> u64 {
        self.current_round
    }

    /// The books.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// This round's active set with the stakes its rewards are shared by.
    pub fn active_set(&self) -> &BTreeMap<Address, U256> {
        &self.active
    }

    /// The rates `orchestrator` committed for `round`.
    pub fn rates_at(&self, orchestrator: &Address, round: u64) -> Option<Rates> {
        self.pools.get(orchestrator)?.rates_at(round)
    }

    /// An orchestrator's pool totals.
    pub fn pool(&self, orchestrator: &Address) -> PoolView {
        self.pools.get(orchestrator).map_or(PoolView::default(), |p| {
            let (earning, pending) = if p.pending_round < self.current_round {
                (p.earning.saturating_add(p.pending), U256::zero())
            } else {
                (p.earning, p.pending)
            };
            PoolView { earning, pending, unbonding: p.unbonding }
        })
    }

    fn require_round(&self) -> Result<u64, StakingError> {
        if self.initialized { Ok(self.current_round) } else { Err(StakingError::NotInitialized) }
    }

    /// Starts the round containing `block` (`RoundsManager.initializeRound`): pending
    /// stake of earlier rounds starts earning, every registered orchestrator's current
    /// `rewardCut`/`feeShare` is committed for the round, and the active set (registry
    /// rules: minimum stake, largest `max_active`) is snapshotted with the stakes that
    /// share this round's inflation.
    pub fn initialize_round(&mut self, block: u64, registry: &Registry) -> Result<u64, StakingError> {
        let rounds = registry.config().rounds;
        if rounds != self.config.rounds {
            return Err(StakingError::RoundsMismatch { registry: rounds, staking: self.config.rounds });
        }
        let round = block / self.config.rounds.length;
        if self.initialized && round <= self.current_round {
            return Err(StakingError::RoundNotIncreasing { current: self.current_round, got: round });
        }
        // A pool's stake is earning + pending before and after the roll alike.
        let active: BTreeMap<Address, U256> = registry.active_set(&*self).into_iter().collect();
        let mut total = U256::zero();
        for s in active.values() {
            total = add(total, *s)?;
        }
        for p in self.pools.values_mut() {
            p.roll(round);
        }
        for r in registry.records() {
            let p = self.pools.entry(r.orchestrator).or_insert_with(|| Pool::new(round));
            let rates = Rates { reward_cut: r.reward_cut, fee_share: r.fee_share };
            if p.rates_at(round) != Some(rates) {
                p.rates.insert(round, rates);
            }
        }
        self.active = active;
        self.active_total = total;
        self.current_round = round;
        self.initialized = true;
        Ok(round)
    }

    /// Values a delegator's tranches against its delegate's pool now: (earning,
    /// pending, fees accrued since the last settlement).
    fn value(&self, d: &Delegator) -> Result<(U256, U256, U256), StakingError> {
        let Some(o) = d.delegate else { return Ok((U256::zero(), U256::zero(), U256::zero())) };
        let Some(p) = self.pools.get(&o) else { return Ok((U256::zero(), U256::zero(), U256::zero())) };
        let (mut earning, mut pending, mut fees) = (U256::zero(), U256::zero(), U256::zero());
        let value_tranche = |t: Tranche, earning: &mut U256, fees: &mut U256| -> Result<(), StakingError> {
            let now = p.now(t.generation);
            *fees = add(*fees, mul_div(t.amount, now.f.saturating_sub(t.start.f), t.start.s)?)?;
            if t.generation == p.generation {
                *earning = add(*earning, mul_div(t.amount, now.s, t.start.s)?)?;
            }
            Ok(())
        };
        if let Some(t) = d.earning {
            value_tranche(t, &mut earning, &mut fees)?;
        }
        if let Some(pt) = d.pending {
            if pt.generation == p.generation && pt.round >= self.current_round {
                pending = mul_div(pt.amount, p.cum.k, pt.k0)?;
            } else {
                let end = p.end_of(pt.generation, pt.round);
                let at_end = mul_div(pt.amount, end.k, pt.k0)?;
                value_tranche(
                    Tranche { amount: at_end, start: end, generation: pt.generation },
                    &mut earning,
                    &mut fees,
                )?;
            }
        }
        Ok((earning, pending, fees))
    }

    /// A delegator's position now, without changing anything (O(1) in rounds elapsed).
    pub fn position(&self, delegator: &Address) -> Result<Position, StakingError> {
        let Some(d) = self.delegators.get(delegator) else { return Ok(Position::default()) };
        let (earning, pending, fees) = self.value(d)?;
        Ok(Position { delegate: d.delegate, earning, pending, fees: add(d.fees, fees)? })
    }

    /// How the pools (rolled to the current round) count `d`'s tranches: per pool,
    /// [earning, pending, locks].
    fn counts(&self, d: &Delegator) -> BTreeMap<Address, [u64; 3]> {
        let mut out: BTreeMap<Address, [u64; 3]> = BTreeMap::new();
        let generation = |o: &Address| self.pools.get(o).map(|p| p.generation);
        if let Some(o) = d.delegate {
            let g = generation(&o);
            let c = out.entry(o).or_default();
            if d.earning.is_some_and(|t| Some(t.generation) == g) {
                c[0] += 1;
            }
            if let Some(t) = d.pending.filter(|t| Some(t.generation) == g) {
                c[usize::from(t.round >= self.current_round)] += 1;
            }
        }
        for l in d.locks.values() {
            if Some(l.generation) == generation(&l.orchestrator) {
                out.entry(l.orchestrator).or_default()[2] += 1;
            }
        }
        out
    }

    /// Stores a delegator's new record and updates the tranche counts of the pools it
    /// left or joined, sweeping totals left without tranches into the dust.
    fn commit(&mut self, addr: Address, new: Delegator) {
        let old = self.delegators.get(&addr).map(|d| self.counts(d)).unwrap_or_default();
        let now = self.counts(&new);
        let round = self.current_round;
        let mut swept = U256::zero();
        let touched: std::collections::BTreeSet<Address> = old.keys().chain(now.keys()).copied().collect();
        for o in &touched {
            let Some(p) = self.pools.get_mut(o) else { continue };
            p.roll(round);
            let (a, b) = (old.get(o).copied().unwrap_or_default(), now.get(o).copied().unwrap_or_default());
            for i in 0..3 {
                p.tranches[i] = p.tranches[i].saturating_sub(a[i]).saturating_add(b[i]);
            }
            swept = swept.saturating_add(p.sweep());
        }
        self.totals.dust = self.totals.dust.saturating_add(swept);
        self.delegators.insert(addr, new);
    }

    /// Settles a delegator against its pool: the tranches restart at the current factors.
    fn settle(&self, addr: &Address) -> Result<Delegator, StakingError> {
        let mut d = self.delegators.get(addr).cloned().unwrap_or_default();
        let Some(o) = d.delegate else { return Ok(d) };
        let (earning, pending, fees) = self.value(&d)?;
        let p = self.pools.get(&o).ok_or(StakingError::NotBonded(*addr))?;
        d.fees = add(d.fees, fees)?;
        d.earning = (!earning.is_zero()).then_some(Tranche {
            amount: earning,
            start: p.cum,
            generation: p.generation,
        });
        d.pending = (!pending.is_zero()).then_some(Pending {
            amount: pending,
            round: self.current_round,
            k0: p.cum.k,
            generation: p.generation,
        });
        if earning.is_zero() && pending.is_zero() {
            d.delegate = None;
        }
        Ok(d)
    }

    fn pool_mut(&mut self, o: Address) -> Result<&mut Pool, StakingError> {
        let round = self.current_round;
        let p = self.pools.entry(o).or_insert_with(|| Pool::new(round));
        p.roll(round);
        Ok(p)
    }

    /// Runs `f`; if it fails, restores the named pools as they were (a refused call
    /// changes nothing), cloning only those.
    fn guarded<T>(
        &mut self,
        pools: &[Address],
        f: impl FnOnce(&mut Self) -> Result<T, StakingError>,
    ) -> Result<T, StakingError> {
        let saved: Vec<(Address, Option<Pool>)> =
            pools.iter().map(|a| (*a, self.pools.get(a).cloned())).collect();
        let result = f(self);
        if result.is_err() {
            for (a, p) in saved {
                match p {
                    Some(p) => self.pools.insert(a, p),
                    None => self.pools.remove(&a),
                };
            }
        }
        result
    }

    /// Adds `amount` to a settled delegator's pending tranche at `o`.
    fn add_pending(&mut self, d: &mut Delegator, o: Address, amount: U256) -> Result<(), StakingError> {
        let round = self.current_round;
        let p = self.pool_mut(o)?;
        let new_pool = add(p.pending, amount)?;
        let have = d.pending.map_or(U256::zero(), |t| t.amount);
        d.pending =
            Some(Pending { amount: add(have, amount)?, round, k0: p.cum.k, generation: p.generation });
        p.pending = new_pool;
        p.pending_round = round;
        d.delegate = Some(o);
        Ok(())
    }

    /// Takes a settled delegator's whole stake out of its pool: (earning, pending).
    fn take_all(&mut self, d: &mut Delegator) -> Result<U256, StakingError> {
        let Some(o) = d.delegate else { return Ok(U256::zero()) };
        let e = d.earning.take().map_or(U256::zero(), |t| t.amount);
        let pe = d.pending.take().map_or(U256::zero(), |t| t.amount);
        let p = self.pool_mut(o)?;
        // Settled stakes are floors of the pool's shares, so they never exceed its totals.
        p.earning = p.earning.saturating_sub(e);
        p.pending = p.pending.saturating_sub(pe);
        d.delegate = None;
        add(e, pe)
    }

    /// `bond`: adds `amount` of new stake from `delegator` to `orchestrator`. Bonding to
    /// another orchestrator than the current one moves the whole stake there (Livepeer's
    /// delegation change; `amount` may then be zero). New and moved stake earns from the
    /// next round.
    pub fn bond(
        &mut self,
        delegator: Address,
        orchestrator: Address,
        amount: U256,
    ) -> Result<(), StakingError> {
        self.require_round()?;
        if delegator.is_zero() || orchestrator.is_zero() {
            return Err(StakingError::ZeroAddress);
        }
        let mut d = self.settle(&delegator)?;
        let moving = d.delegate.is_some_and(|o| o != orchestrator);
        if amount.is_zero() && !moving {
            return Err(StakingError::ZeroAmount);
        }
        let bonded = add(self.totals.bonded, amount)?;
        let involved: Vec<Address> = d.delegate.into_iter().chain([orchestrator]).collect();
        self.guarded(&involved, |st| {
            let moved = if moving { st.take_all(&mut d)? } else { U256::zero() };
            st.add_pending(&mut d, orchestrator, add(moved, amount)?)
        })?;
        self.totals.bonded = bonded;
        self.commit(delegator, d);
        Ok(())
    }

    /// `unbond`: moves `amount` of the delegator's stake (pending first, then earning)
    /// into a new unbonding lock withdrawable `unbonding_period` rounds from now. The
    /// lock stays exposed to its orchestrator's slashes. Returns the lock id.
    pub fn unbond(&mut self, delegator: Address, amount: U256) -> Result<u64, StakingError> {
        let round = self.require_round()?;
        if amount.is_zero() {
            return Err(StakingError::ZeroAmount);
        }
        let mut d = self.settle(&delegator)?;
        let Some(o) = d.delegate else { return Err(StakingError::NotBonded(delegator)) };
        let e = d.earning.map_or(U256::zero(), |t| t.amount);
        let pe = d.pending.map_or(U256::zero(), |t| t.amount);
        let bonded = add(e, pe)?;
        if amount > bonded {
            return Err(StakingError::InsufficientBond { bonded, requested: amount });
        }
        if d.locks.len() >= MAX_LOCKS {
            return Err(StakingError::TooManyLocks { max: MAX_LOCKS });
        }
        let withdraw_round = round.checked_add(self.config.unbonding_period).ok_or(StakingError::Overflow)?;
        let from_pending = amount.min(pe);
        let from_earning = amount - from_pending;
        let p = self.pool_mut(o)?;
        let unbonding = add(p.unbonding, amount)?;
        p.pending = p.pending.saturating_sub(from_pending);
        p.earning = p.earning.saturating_sub(from_earning);
        p.unbonding = unbonding;
        let (k0, generation) = (p.cum.k, p.generation);
        if let Some(t) = d.pending.as_mut() {
            t.amount = pe - from_pending;
        }
        if let Some(t) = d.earning.as_mut() {
            t.amount = e - from_earning;
        }
        d.pending = d.pending.filter(|t| !t.amount.is_zero());
        d.earning = d.earning.filter(|t| !t.amount.is_zero());
        if d.pending.is_none() && d.earning.is_none() {
            d.delegate = None;
        }
        let id = d.next_lock;
        d.next_lock = id.saturating_add(1);
        d.locks.insert(id, Lock { orchestrator: o, amount, k0, generation, withdraw_round });
        self.commit(delegator, d);
        Ok(id)
    }

    fn lock_value(&self, l: &Lock) -> Result<U256, StakingError> {
        match self.pools.get(&l.orchestrator) {
            Some(p) if p.generation == l.generation => mul_div(l.amount, p.cum.k, l.k0),
            _ => Ok(U256::zero()),
        }
    }

    /// A delegator's unbonding locks, by id.
    pub fn locks(&self, delegator: &Address) -> Result<Vec<(u64, LockView)>, StakingError> {
        let Some(d) = self.delegators.get(delegator) else { return Ok(Vec::new()) };
        d.locks
            .iter()
            .map(|(id, l)| {
                Ok((
                    *id,
                    LockView {
                        orchestrator: l.orchestrator,
                        amount: self.lock_value(l)?,
                        withdraw_round: l.withdraw_round,
                    },
                ))
            })
            .collect()
    }

    fn rebond_inner(&mut self, delegator: Address, id: u64, to: Option<Address>) -> Result<(), StakingError> {
        self.require_round()?;
        let mut d = self.settle(&delegator)?;
        let lock = *d.locks.get(&id).ok_or(StakingError::UnknownLock { delegator, id })?;
        let target = match (to, d.delegate) {
            (Some(t), Some(cur)) if t != cur => return Err(StakingError::StillBonded { delegate: cur }),
            (Some(t), _) => t,
            (None, Some(cur)) => cur,
            (None, None) => lock.orchestrator,
        };
        if target.is_zero() {
            return Err(StakingError::ZeroAddress);
        }
        let value = self.lock_value(&lock)?;
        if value.is_zero() {
            return Err(StakingError::NothingToRebond);
        }
        self.guarded(&[lock.orchestrator, target], |st| {
            let src = st.pool_mut(lock.orchestrator)?;
            src.unbonding = src.unbonding.saturating_sub(value);
            st.add_pending(&mut d, target, value)
        })?;
        d.locks.remove(&id);
        self.commit(delegator, d);
        Ok(())
    }

    /// `rebond`: returns an unbonding lock's stake (after any slash) to the delegator's
    /// current orchestrator, or to the lock's orchestrator if it is fully unbonded. It
    /// earns from the next round.
    pub fn rebond(&mut self, delegator: Address, lock_id: u64) -> Result<(), StakingError> {
        self.rebond_inner(delegator, lock_id, None)
    }

    /// `rebondFromUnbonded`: rebonds a lock to `orchestrator`, any orchestrator if the
    /// delegator is fully unbonded, else only its current one.
    pub fn rebond_to(
        &mut self,
        delegator: Address,
        lock_id: u64,
        orchestrator: Address,
    ) -> Result<(), StakingError> {
        self.rebond_inner(delegator, lock_id, Some(orchestrator))
    }

    /// `withdrawStake`: pays out an expired lock (its amount after any slash).
    pub fn withdraw_stake(&mut self, delegator: Address, lock_id: u64) -> Result<U256, StakingError> {
        let round = self.require_round()?;
        let mut d = self.delegators.get(&delegator).cloned().unwrap_or_default();
        let lock = *d.locks.get(&lock_id).ok_or(StakingError::UnknownLock { delegator, id: lock_id })?;
        if round < lock.withdraw_round {
            return Err(StakingError::LockNotExpired {
                withdraw_round: lock.withdraw_round,
                current_round: round,
            });
        }
        let value = self.lock_value(&lock)?;
        let withdrawn = add(self.totals.withdrawn, value)?;
        let p = self.pool_mut(lock.orchestrator)?;
        p.unbonding = p.unbonding.saturating_sub(value);
        d.locks.remove(&lock_id);
        self.commit(delegator, d);
        self.totals.withdrawn = withdrawn;
        Ok(value)
    }

    /// `claimEarnings`: settles a delegator's rewards and fees into its position (O(1)
    /// whatever the rounds elapsed) and returns it.
    pub fn claim(&mut self, delegator: Address) -> Result<Position, StakingError> {
        let d = self.settle(&delegator)?;
        self.commit(delegator, d);
        self.position(&delegator)
    }

    /// `withdrawFees`: pays out a delegator's (or orchestrator's) earned fees.
    pub fn withdraw_fees(&mut self, delegator: Address) -> Result<U256, StakingError> {
        let mut d = self.settle(&delegator)?;
        let amount = d.fees;
        if amount.is_zero() {
            return Err(StakingError::ZeroAmount);
        }
        let out = add(self.totals.fees_out, amount)?;
        d.fees = U256::zero();
        self.commit(delegator, d);
        self.totals.fees_out = out;
        Ok(amount)
    }

    /// `reward`: an active, self-bonded orchestrator mints its share of this round's
    /// inflation (`reward_per_round · stake / active stake`, floored), once per round.
    /// `rewardCut` of it (committed for this round) is bonded to the orchestrator as
    /// pending stake; the rest grows the earning delegators' stake through `S`. With no
    /// earning stake, the delegators' part is not minted.
    pub fn reward(&mut self, orchestrator: Address) -> Result<RewardOutcome, StakingError> {
        let round = self.require_round()?;
        let Some(stake) = self.active.get(&orchestrator).copied() else {
            return Err(StakingError::NotActive { orchestrator, round });
        };
        let p = self.pools.get(&orchestrator).ok_or(StakingError::NotActive { orchestrator, round })?;
        if p.rewarded_round == Some(round) {
            return Err(StakingError::AlreadyRewarded { orchestrator, round });
        }
        let rates = p.rates_at(round).ok_or(StakingError::NoCommittedRates { orchestrator, round })?;
        let mut own = self.settle(&orchestrator)?;
        if own.delegate != Some(orchestrator) {
            return Err(StakingError::NotSelfBonded(orchestrator));
        }
        let amount = mul_div(self.config.reward_per_round, stake, self.active_total)?;
        let cut = mul_div(amount, U256::from(rates.reward_cut), U256::from(PPM))?;
        let out = self.guarded(&[orchestrator], |st| {
            let p = st.pool_mut(orchestrator)?;
            let mut delegators = amount - cut;
            if p.earning.is_zero() || p.tranches[0] == 0 {
                delegators = U256::zero();
            }
            if !delegators.is_zero() {
                let e = add(p.earning, delegators)?;
                let s = mul_div(p.cum.s, e, p.earning)?;
                p.touch(round);
                p.cum.s = s;
                p.earning = e;
            }
            p.rewarded_round = Some(round);
            if !cut.is_zero() {
                st.add_pending(&mut own, orchestrator, cut)?;
            }
            let minted = add(st.totals.minted, add(cut, delegators)?)?;
            Ok((RewardOutcome { orchestrator: cut, delegators }, minted))
        });
        let (out, minted) = out?;
        self.totals.minted = minted;
        self.commit(orchestrator, own);
        Ok(out)
    }

    /// Credits `amount` of ticket fees to `orchestrator` for a ticket created in
    /// `ticket_round` (inside the validity window), split at the `feeShare` committed
    /// for that round: the delegators' share is spread over the stake earning now
    /// (through `F`), the rest goes to the orchestrator's fee balance. With no earning
    /// stake, everything goes to the orchestrator.
    pub fn credit_fees(
        &mut self,
        orchestrator: Address,
        amount: U256,
        ticket_round: u64,
    ) -> Result<FeeOutcome, StakingError> {
        let round = self.require_round()?;
        let validity = self.config.ticket_validity_period;
        if ticket_round > round || ticket_round.saturating_add(validity) <= round {
            return Err(StakingError::TicketOutsideWindow { ticket_round, current_round: round, validity });
        }
        if amount.is_zero() {
            return Err(StakingError::ZeroAmount);
        }
        let rates = self
            .pools
            .get(&orchestrator)
            .and_then(|p| p.rates_at(ticket_round))
            .ok_or(StakingError::NoCommittedRates { orchestrator, round: ticket_round })?;
        let fees_in = add(self.totals.fees_in, amount)?;
        let mut own = self.delegators.get(&orchestrator).cloned().unwrap_or_default();
        let to_pool_before = self.totals.fees_to_delegators;
        let p = self.pool_mut(orchestrator)?;
        let mut delegators = mul_div(amount, U256::from(rates.fee_share), U256::from(PPM))?;
        if p.earning.is_zero() || p.tranches[0] == 0 {
            delegators = U256::zero();
        }
        let cut = amount - delegators;
        let own_fees = add(own.fees, cut)?;
        let to_pool = add(to_pool_before, delegators)?;
        if !delegators.is_zero() {
            let df = mul_div(delegators, p.cum.s, p.earning)?;
            let f = add(p.cum.f, df)?;
            p.touch(round);
            p.cum.f = f;
        }
        own.fees = own_fees;
        self.commit(orchestrator, own);
        self.totals.fees_in = fees_in;
        self.totals.fees_to_delegators = to_pool;
        Ok(FeeOutcome { orchestrator: cut, delegators, fee_share: rates.fee_share })
    }

    /// Credits what the broker paid for a redeemed winning ticket to its recipient, at
    /// the `feeShare` committed for the ticket's creation round.
    pub fn credit_redemption(
        &mut self,
        ticket: &pm_tickets::Ticket,
        paid: U256,
    ) -> Result<FeeOutcome, StakingError> {
        self.credit_fees(ticket.recipient, paid, ticket.expiration_params.creation_round)
    }

    /// Slashes `fraction_ppm` of everything bonded to `orchestrator`: earning and pending
    /// stake, own and delegated, and its unbonding locks, pro rata. A slash that would
    /// leave the factors without precision takes the whole pool. Only verified evidence
    /// reaches this ([`crate::slashing`]).
    pub(crate) fn slash(
        &mut self,
        orchestrator: Address,
        fraction_ppm: u32,
    ) -> Result<Slashed, StakingError> {
        let round = self.require_round()?;
        if fraction_ppm == 0 || fraction_ppm > PPM {
            return Err(StakingError::BadFraction { ppm: fraction_ppm });
        }
        let mut p = self.pools.get(&orchestrator).cloned().unwrap_or_else(|| Pool::new(round));
        p.roll(round);
        let keep = U256::from(PPM - fraction_ppm);
        let ppm = U256::from(PPM);
        let s = mul_div(p.cum.s, keep, ppm)?;
        let k = mul_div(p.cum.k, keep, ppm)?;
        p.touch(round);
        let out = if s < MIN_FACTOR || k < MIN_FACTOR {
            let out = Slashed { earning: p.earning, pending: p.pending, unbonding: p.unbonding };
            p.retired.insert(p.generation, (p.cum_round, p.cum));
            p.generation = p.generation.checked_add(1).ok_or(StakingError::Overflow)?;
            p.cum = Factors::INITIAL;
            p.earning = U256::zero();
            p.pending = U256::zero();
            p.unbonding = U256::zero();
            p.tranches = [0; 3];
            out
        } else {
            let f = U256::from(fraction_ppm);
            let out = Slashed {
                earning: mul_div(p.earning, f, ppm)?,
                pending: mul_div(p.pending, f, ppm)?,
                unbonding: mul_div(p.unbonding, f, ppm)?,
            };
            p.earning -= out.earning;
            p.pending -= out.pending;
            p.unbonding -= out.unbonding;
            p.cum.s = s;
            p.cum.k = k;
            out
        };
        let slashed = add(self.totals.slashed, out.total())?;
        self.pools.insert(orchestrator, p);
        self.totals.slashed = slashed;
        Ok(out)
    }
}
