//! The TicketBroker contract's rules as a pure state machine: deposits and reserves,
//! unlock and withdraw, winning-ticket redemption with the used-ticket set, the
//! creation-round validity window, and the per-round reserve split over the active set
//! (Livepeer `TicketBroker`: `MixinTicketBrokerCore`, `MixinReserve`,
//! `MixinTicketProcessor`).
//!
//! A failed call (the contract's `require` reverting) returns an [`Error`] and leaves
//! the broker and its store unchanged.
//!
//! The broker moves real balances through a [`BrokerStore`]: funding escrows the
//! sender's tokens, a redemption pays the recipient's account, a withdrawal pays the
//! sender back. **\[beyond\]** The configuration must keep the unlock period at least
//! as long as the ticket validity period ([`BrokerConfig::validate`]), so every ticket
//! a recipient accepted before the sender unlocked stays redeemable until the deposit
//! can leave.

use std::collections::{BTreeMap, BTreeSet};

use primitives::{Address, H256, U256};

use crate::Error;
use crate::store::{BrokerStore, MemoryStore};
use crate::ticket::SignedTicket;

/// How a winning ticket whose face value exceeds the sender's funds is settled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Settlement {
    /// **\[beyond\]** Refuse the redemption (the ticket stays unused and can be redeemed
    /// later, e.g. next round when the reserve allocation renews). A sender cannot
    /// drain its funds to dust and so void a recipient's winners.
    #[default]
    AllOrNothing,
    /// The deployed contract's rule: pay the deposit plus whatever reserve share is
    /// claimable, and mark the ticket used even if that is less than the face value.
    Partial,
}

/// Broker parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Rounds between `unlock` and the first round `withdraw` is allowed.
    pub unlock_period: u64,
    /// A ticket is redeemable while `creationRound + ticketValidityPeriod > currentRound`.
    pub ticket_validity_period: u64,
    /// Settlement rule.
    pub settlement: Settlement,
}

impl BrokerConfig {
    /// Checks the fee-theft defence: a ticket created in round `c ≤ u` (the sender
    /// unlocks in round `u`; recipients refuse unlocking senders) is redeemable up to
    /// round `c + ticket_validity_period − 1`, and the deposit can leave from round
    /// `u + unlock_period`; so `unlock_period ≥ ticket_validity_period` keeps every such
    /// ticket redeemable while the deposit is still there.
    pub fn validate(&self) -> Result<(), Error> {
        if self.ticket_validity_period == 0 {
            return Err(Error::ZeroValidityPeriod);
        }
        if self.unlock_period < self.ticket_validity_period {
            return Err(Error::UnlockShorterThanValidity {
                unlock_period: self.unlock_period,
                ticket_validity_period: self.ticket_validity_period,
            });
        }
        Ok(())
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig { unlock_period: 2, ticket_validity_period: 2, settlement: Settlement::AllOrNothing }
    }
}

/// A sender's account (`TicketBroker.Sender`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderAccount {
    /// Funds that pay winning tickets first.
    pub deposit: U256,
    /// Round from which withdrawal is allowed; 0 when no unlock is in progress.
    pub withdraw_round: u64,
}

#[derive(Clone, Debug, Default)]
struct Reserve {
    funds: U256,
    claimed_for_round: BTreeMap<u64, U256>,
    claimed_by: BTreeMap<(u64, Address), U256>,
}

/// The broker model, moving funds through the store `S`.
#[derive(Clone, Debug)]
pub struct Broker<S = MemoryStore> {
    config: BrokerConfig,
    store: S,
    current_round: u64,
    round_hashes: BTreeMap<u64, H256>,
    active: BTreeSet<Address>,
    senders: BTreeMap<Address, SenderAccount>,
    reserves: BTreeMap<Address, Reserve>,
    used: BTreeSet<H256>,
    fees: BTreeMap<Address, U256>,
    withdrawn: BTreeMap<Address, U256>,
    funded: U256,
}

impl Broker<MemoryStore> {
    /// A broker at round 0 with an empty active set over an empty [`MemoryStore`]
    /// (mint balances with [`Broker::store_mut`]); refuses a configuration that fails
    /// [`BrokerConfig::validate`].
    pub fn new(config: BrokerConfig) -> Result<Self, Error> {
        Self::with_store(config, MemoryStore::new())
    }
}

impl<S: BrokerStore> Broker<S> {
    /// A broker at round 0 over `store` (whose escrow should be empty); refuses a
    /// configuration that fails [`BrokerConfig::validate`].
    pub fn with_store(config: BrokerConfig, store: S) -> Result<Self, Error> {
        config.validate()?;
        Ok(Broker {
            config,
            store,
            current_round: 0,
            round_hashes: BTreeMap::new(),
            active: BTreeSet::new(),
            senders: BTreeMap::new(),
            reserves: BTreeMap::new(),
            used: BTreeSet::new(),
            fees: BTreeMap::new(),
            withdrawn: BTreeMap::new(),
            funded: U256::zero(),
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably: for crediting outside accounts (minting, a chain's
    /// transfers). Moving escrow behind the broker's back breaks
    /// `store.escrowed() == deposits + reserves`.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Deposits plus reserves: what the store must hold in escrow.
    pub fn total_escrowed(&self) -> Option<U256> {
        self.senders
            .values()
            .map(|s| s.deposit)
            .chain(self.reserves.values().map(|r| r.funds))
            .try_fold(U256::zero(), |a, b| a.checked_add(b))
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The current round.
    pub fn current_round(&self) -> u64 {
        self.current_round
    }

    /// Initializes round `round` (strictly after the current one) with its block hash and
    /// the active set of orchestrators for it (`RoundsManager.initializeRound`).
    pub fn initialize_round(
        &mut self,
        round: u64,
        block_hash: H256,
        active_set: impl IntoIterator<Item = Address>,
    ) -> Result<(), Error> {
        if round <= self.current_round && !(round == 0 && self.round_hashes.is_empty()) {
            return Err(Error::RoundNotIncreasing { current: self.current_round, got: round });
        }
        self.current_round = round;
        self.round_hashes.insert(round, block_hash);
        self.active = active_set.into_iter().collect();
        Ok(())
    }

    /// A sender's account.
    pub fn sender(&self, sender: &Address) -> SenderAccount {
        self.senders.get(sender).copied().unwrap_or_default()
    }

    /// A sender's remaining reserve.
    pub fn reserve(&self, sender: &Address) -> U256 {
        self.reserves.get(sender).map(|r| r.funds).unwrap_or_default()
    }

    /// Whether a ticket hash was redeemed.
    pub fn is_used(&self, ticket_hash: &H256) -> bool {
        self.used.contains(ticket_hash)
    }

    /// Fees paid to `recipient` so far.
    pub fn fees(&self, recipient: &Address) -> U256 {
        self.fees.get(recipient).copied().unwrap_or_default()
    }

    /// Funds withdrawn by `sender` so far.
    pub fn withdrawn(&self, sender: &Address) -> U256 {
        self.withdrawn.get(sender).copied().unwrap_or_default()
    }

    /// Everything ever funded.
    pub fn total_funded(&self) -> U256 {
        self.funded
    }

    /// Deposits + reserves + fees paid + withdrawals. Equals [`Broker::total_funded`]
    /// (conservation); property-tested.
    pub fn total_accounted(&self) -> Option<U256> {
        let mut sum = U256::zero();
        for v in self
            .senders
            .values()
            .map(|s| s.deposit)
            .chain(self.reserves.values().map(|r| r.funds))
            .chain(self.fees.values().copied())
            .chain(self.withdrawn.values().copied())
        {
            sum = sum.checked_add(v)?;
        }
        Some(sum)
    }

    /// Whether the sender is locked: no unlock, or its withdraw round not reached.
    pub fn is_locked(&self, sender: &Address) -> bool {
        let s = self.sender(sender);
        s.withdraw_round == 0 || self.current_round < s.withdraw_round
    }

    /// Reserve claimable by `claimant` this round: zero unless it is in the active set;
    /// else `(funds + claimedForRound) / poolSize − claimedByAddress`.
    pub fn claimable_reserve(&self, sender: &Address, claimant: &Address) -> U256 {
        if !self.active.contains(claimant) || self.active.is_empty() {
            return U256::zero();
        }
        let Some(r) = self.reserves.get(sender) else { return U256::zero() };
        let round = self.current_round;
        let claimed = r.claimed_for_round.get(&round).copied().unwrap_or_default();
        let by = r.claimed_by.get(&(round, *claimant)).copied().unwrap_or_default();
        // funds + claimed never exceeds what was funded, so this cannot overflow; the
        // contract's SafeMath `sub` would revert where this saturates (unreachable while
        // the pool size is fixed for a round).
        let total = r.funds.saturating_add(claimed);
        (total / U256::from(self.active.len())).saturating_sub(by)
    }

    /// What a winning ticket to `recipient` can take from `sender` now: deposit +
    /// claimable reserve (go-livepeer's "max float").
    pub fn max_float(&self, sender: &Address, recipient: &Address) -> U256 {
        self.sender(sender).deposit.saturating_add(self.claimable_reserve(sender, recipient))
    }

    /// `fundDeposit`: adds to the deposit; cancels an unlock in progress.
    pub fn fund_deposit(&mut self, sender: Address, amount: U256) -> Result<(), Error> {
        self.fund_deposit_and_reserve(sender, amount, amount, U256::zero())
    }

    /// `fundReserve`: adds to the reserve; cancels an unlock in progress.
    pub fn fund_reserve(&mut self, sender: Address, amount: U256) -> Result<(), Error> {
        self.fund_deposit_and_reserve(sender, amount, U256::zero(), amount)
    }

    /// `fundDepositAndReserve`: `value` must equal `deposit + reserve`.
    pub fn fund_deposit_and_reserve(
        &mut self,
        sender: Address,
        value: U256,
        deposit: U256,
        reserve: U256,
    ) -> Result<(), Error> {
        if deposit.checked_add(reserve) != Some(value) {
            return Err(Error::ValueSplitMismatch { value, deposit, reserve });
        }
        let mut acct = self.sender(&sender);
        acct.deposit = acct.deposit.checked_add(deposit).ok_or(Error::Overflow)?;
        let funds = self.reserve(&sender).checked_add(reserve).ok_or(Error::Overflow)?;
        let funded = self.funded.checked_add(value).ok_or(Error::Overflow)?;
        self.store.escrow_in(&sender, value)?;
        self.funded = funded;
        acct.withdraw_round = 0;
        self.senders.insert(sender, acct);
        self.reserves.entry(sender).or_default().funds = funds;
        Ok(())
    }

    /// `unlock`: withdrawal becomes possible `unlock_period` rounds from now.
    pub fn unlock(&mut self, sender: Address) -> Result<(), Error> {
        let acct = self.sender(&sender);
        if acct.deposit.is_zero() && self.reserve(&sender).is_zero() {
            return Err(Error::NoFunds(sender));
        }
        if acct.withdraw_round > 0 {
            return Err(Error::UnlockInProgress { withdraw_round: acct.withdraw_round });
        }
        let withdraw_round =
            self.current_round.checked_add(self.config.unlock_period).ok_or(Error::Overflow)?;
        self.senders.insert(sender, SenderAccount { withdraw_round, ..acct });
        Ok(())
    }

    /// `cancelUnlock`.
    pub fn cancel_unlock(&mut self, sender: Address) -> Result<(), Error> {
        let acct = self.sender(&sender);
        if acct.withdraw_round == 0 {
            return Err(Error::NoUnlockInProgress);
        }
        self.senders.insert(sender, SenderAccount { withdraw_round: 0, ..acct });
        Ok(())
    }

    /// `withdraw`: pays out deposit and reserve once the unlock period has passed.
    /// Like the contract, the withdraw round stays set, so the sender stays unlocked
    /// (its old tickets are refused) until it funds again.
    pub fn withdraw(&mut self, sender: Address) -> Result<U256, Error> {
        let acct = self.sender(&sender);
        let reserve = self.reserve(&sender);
        if acct.deposit.is_zero() && reserve.is_zero() {
            return Err(Error::NoFunds(sender));
        }
        if acct.withdraw_round == 0 {
            return Err(Error::NoUnlockInProgress);
        }
        if self.is_locked(&sender) {
            return Err(Error::SenderLocked {
                withdraw_round: acct.withdraw_round,
                current_round: self.current_round,
            });
        }
        let amount = acct.deposit.checked_add(reserve).ok_or(Error::Overflow)?;
        let total = self.withdrawn(&sender).checked_add(amount).ok_or(Error::Overflow)?;
        self.store.escrow_out(&sender, amount)?;
        self.senders.insert(sender, SenderAccount { deposit: U256::zero(), ..acct });
        // `delete reserves[sender]` clears the funds only; Solidity mappings inside
        // survive. They are never read again while the sender stays unlocked.
        if let Some(r) = self.reserves.get_mut(&sender) {
            r.funds = U256::zero();
        }
        self.withdrawn.insert(sender, total);
        Ok(amount)
    }

    /// `redeemWinningTicket`: validates the ticket (recipient and sender non-zero,
    /// creation round known with matching block hash and inside the validity window,
    /// rand matches, not used, valid signature, wins), requires a locked sender with
    /// funds, marks the ticket used and pays from deposit first, then from the
    /// recipient's reserve share. Returns the amount paid.
    pub fn redeem_winning_ticket(&mut self, st: &SignedTicket) -> Result<U256, Error> {
        let t = &st.ticket;
        if t.recipient.is_zero() {
            return Err(Error::ZeroRecipient);
        }
        if t.sender.is_zero() {
            return Err(Error::ZeroSender);
        }
        let ep = t.expiration_params;
        crate::validate::check_creation_round_hash(&self.round_hashes, &ep)?;
        if ep.creation_round.saturating_add(self.config.ticket_validity_period) <= self.current_round {
            return Err(Error::TicketExpired {
                creation_round: ep.creation_round,
                current_round: self.current_round,
                validity_period: self.config.ticket_validity_period,
            });
        }
        // The order of the checks is the contract's, so every invalid ticket gets the
        // contract's error.
        let computed = crate::rand_hash(&st.recipient_rand);
        if computed != t.recipient_rand_hash {
            return Err(Error::RecipientRandMismatch { expected: t.recipient_rand_hash, computed });
        }
        let hash = t.hash();
        if self.used.contains(&hash) {
            return Err(Error::TicketUsed(hash));
        }
        t.verify_signature(&st.sig)?;
        if !st.wins() {
            return Err(Error::NotWinning);
        }
        if !self.is_locked(&t.sender) {
            return Err(Error::SenderUnlocked(t.sender));
        }
        let acct = self.sender(&t.sender);
        if acct.deposit.is_zero() && self.reserve(&t.sender).is_zero() {
            return Err(Error::NoFunds(t.sender));
        }
        let fees = self.fees(&t.recipient);
        let (paid, from_reserve, deposit_left) = if t.face_value > acct.deposit {
            let want = t.face_value - acct.deposit;
            let claim = want.min(self.claimable_reserve(&t.sender, &t.recipient));
            if self.config.settlement == Settlement::AllOrNothing && claim < want {
                return Err(Error::InsufficientFunds {
                    face_value: t.face_value,
                    available: acct.deposit.saturating_add(claim),
                });
            }
            (acct.deposit.saturating_add(claim), claim, U256::zero())
        } else {
            (t.face_value, U256::zero(), acct.deposit - t.face_value)
        };
        let new_fees = fees.checked_add(paid).ok_or(Error::Overflow)?;
        // All checks passed: pay the recipient's account, then apply.
        self.store.escrow_out(&t.recipient, paid)?;
        self.used.insert(hash);
        self.senders.insert(t.sender, SenderAccount { deposit: deposit_left, ..acct });
        if !from_reserve.is_zero() {
            let round = self.current_round;
            let r = self.reserves.entry(t.sender).or_default();
            r.funds = r.funds.saturating_sub(from_reserve);
            let c = r.claimed_for_round.entry(round).or_default();
            *c = c.saturating_add(from_reserve);
            let b = r.claimed_by.entry((round, t.recipient)).or_default();
            *b = b.saturating_add(from_reserve);
        }
        self.fees.insert(t.recipient, new_fees);
        Ok(paid)
    }
}
