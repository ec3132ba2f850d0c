//! The transaction rules (Theta's `ledger/execution/tx_*.go`), as pure functions over a
//! [`View`]: each reads what it needs, checks every condition, and only then writes into
//! the view's transaction overlay, which the caller keeps or drops as a whole.

use std::collections::BTreeMap;

use micropool::ReservedFund;
use mpt_refcount::NodeStore;
use primitives::{Address, H256, U256};

use crate::config::LedgerConfig;
use crate::error::{Error, ExecError};
use crate::slashing::{Committee, MAX_SLASH_PROOF_LEN, Offence, SlashContext, SlashOrder, verify_slash_tx};
use crate::state::{
    Account, RewardDistribution, SplitRule, Stake, StakeHolder, View, bls_index_key, reserve_key,
    reward_distribution_key, slashed_key, split_rule_key, stake_return_key,
};
use crate::tx::{
    Coins, DepositStakeV2Tx, STAKE_FOR_ELITE_EDGE_NODE, STAKE_FOR_GUARDIAN, STAKE_FOR_VALIDATOR, SendTx,
    SlashTx, SplitRuleTx, StakeRewardDistributionTx, StakeTx, Transaction, TxInput, TxType,
};

/// The validator committees a Slash transaction's verification reads, by block height
/// (the one of the Slash's own block and those of the evidence's statements), as the
/// ledger computed them from its retained states. Empty for other transactions.
pub(crate) type Committees = BTreeMap<u64, Committee>;

/// What kind of transaction a receipt is for: a Theta type, or one of meshcast's ticket
/// broker operations ([`crate::tickets`]), which have no Theta type number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// A Theta wire transaction (an Ethereum transfer executes as a Send).
    Theta(TxType),
    /// A ticket broker operation.
    Ticket(crate::tickets::TicketOpKind),
}

impl TxKind {
    /// The snake_case name (`"send"`, `"ticket_redeem"`, …).
    pub fn name(self) -> &'static str {
        match self {
            TxKind::Theta(t) => t.name(),
            TxKind::Ticket(t) => t.name(),
        }
    }
}

impl From<TxType> for TxKind {
    fn from(t: TxType) -> Self {
        TxKind::Theta(t)
    }
}

impl PartialEq<TxType> for TxKind {
    fn eq(&self, other: &TxType) -> bool {
        *self == TxKind::Theta(*other)
    }
}

/// What one executed transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReceipt {
    /// The transaction's kind.
    pub tx_type: TxKind,
    /// The fee, burned.
    pub fee: Coins,
    /// Burned by a slash the transaction proved (micropool overspend).
    pub slashed: Coins,
}

/// Whether signatures still have to be checked (or were checked in a batch before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sigs {
    Check,
    Checked,
}

/// Checks every signature a transaction carries as a signer (not the DepositStakeV2
/// holder signature, which the staking rule checks only on a holder's first deposit).
pub fn verify_signatures(chain_id: &str, tx: &Transaction) -> Result<(), ExecError> {
    tx.check_supported()?;
    tx.verify_all(chain_id)?;
    Ok(())
}

/// The cheap checks, made before any signature is recovered: the type is one this
/// executor runs (others are refused with their type), a stake transaction's purpose is
/// validator or guardian, a Send has inputs and outputs and touches at most
/// `max_accounts_per_tx` accounts (so an oversized Send costs no recoveries).
pub fn check_shape(cfg: &LedgerConfig, tx: &Transaction) -> Result<(), ExecError> {
    tx.check_supported()?;
    match tx {
        Transaction::DepositStake(t) | Transaction::WithdrawStake(t) => check_purpose(t.purpose)?,
        Transaction::DepositStakeV2(t) => check_purpose(t.purpose)?,
        Transaction::Send(t) => {
            if t.inputs.is_empty() {
                return Err(ExecError::NoInputs);
            }
            if t.outputs.is_empty() {
                return Err(ExecError::NoOutputs);
            }
            let count = t.inputs.len().saturating_add(t.outputs.len());
            if count > cfg.max_accounts_per_tx {
                return Err(ExecError::TooManyAccounts { count, max: cfg.max_accounts_per_tx });
            }
        }
        _ => {}
    }
    Ok(())
}

pub(crate) fn apply<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &Transaction,
    sigs: Sigs,
    committees: &Committees,
) -> Result<TxReceipt, ExecError> {
    check_shape(cfg, tx)?;
    if sigs == Sigs::Check {
        verify_signatures(&cfg.chain_id, tx)?;
    }
    let receipt = apply_rule(view, cfg, height, tx, committees)?;
    view.check_limits()?;
    Ok(receipt)
}

fn apply_rule<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &Transaction,
    committees: &Committees,
) -> Result<TxReceipt, ExecError> {
    match tx {
        Transaction::Send(t) => send(view, cfg, t),
        Transaction::DepositStake(t) => deposit(view, cfg, t, None),
        Transaction::DepositStakeV2(t) => {
            let base = StakeTx {
                fee: t.fee,
                source: t.source.clone(),
                holder: t.holder.clone(),
                purpose: t.purpose,
            };
            deposit(view, cfg, &base, Some(t))
        }
        Transaction::WithdrawStake(t) => withdraw(view, cfg, height, t),
        Transaction::ReserveFund(_) | Transaction::ReleaseFund(_) | Transaction::ServicePayment(_) => {
            crate::pool::apply(view, cfg, height, tx)
        }
        Transaction::Slash(t) => slash(view, cfg, height, t, committees),
        Transaction::SplitRule(t) => split_rule(view, cfg, height, t),
        Transaction::StakeRewardDistribution(t) => reward_distribution(view, cfg, t),
        // Checked and applied by the ledger, which holds the block's context.
        Transaction::Coinbase(_) => Err(ExecError::NoBlockContext),
        other => Err(ExecError::NotEnabled { tx_type: other.tx_type() }),
    }
}

/// Fees are TFUEL only and at least `min`.
pub(crate) fn check_fee(fee: &Coins, min: U256) -> Result<(), ExecError> {
    if !fee.theta_wei.is_zero() {
        return Err(ExecError::FeeNotTfuel { theta_wei: fee.theta_wei });
    }
    if fee.tfuel_wei < min {
        return Err(ExecError::FeeTooLow { fee: fee.tfuel_wei, min });
    }
    Ok(())
}

/// Checks the input's sequence and that the account holds at least `needed`; returns
/// the account.
pub(crate) fn check_input<S: NodeStore + ?Sized>(
    view: &View<'_, S>,
    input: &TxInput,
    needed: &Coins,
) -> Result<Account, ExecError> {
    let acc = view.account(&input.address)?;
    let expected = acc.sequence.checked_add(1).ok_or(ExecError::Overflow { what: "sequence" })?;
    if input.sequence != expected {
        return Err(ExecError::BadSequence { address: input.address, expected, got: input.sequence });
    }
    shortfall(&input.address, &acc.coins, needed)?;
    Ok(acc)
}

/// `Err(InsufficientFunds)` naming the first coin in which `held` is below `needed`.
pub(crate) fn shortfall(address: &Address, held: &Coins, needed: &Coins) -> Result<(), ExecError> {
    if held.theta_wei < needed.theta_wei {
        return Err(ExecError::InsufficientFunds {
            address: *address,
            currency: "THETA",
            needed: needed.theta_wei,
            available: held.theta_wei,
        });
    }
    if held.tfuel_wei < needed.tfuel_wei {
        return Err(ExecError::InsufficientFunds {
            address: *address,
            currency: "TFUEL",
            needed: needed.tfuel_wei,
            available: held.tfuel_wei,
        });
    }
    Ok(())
}

/// Takes `amount` from a checked account and bumps its sequence.
pub(crate) fn debit_signer<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    address: &Address,
    mut acc: Account,
    amount: &Coins,
) -> Result<(), ExecError> {
    shortfall(address, &acc.coins, amount)?;
    acc.coins = acc.coins.checked_sub(amount).ok_or(ExecError::Overflow { what: "debit" })?;
    acc.sequence = acc.sequence.checked_add(1).ok_or(ExecError::Overflow { what: "sequence" })?;
    view.set_account(address, &acc);
    Ok(())
}

pub(crate) fn credit<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    address: &Address,
    amount: &Coins,
) -> Result<(), ExecError> {
    let mut acc = view.account(address)?;
    acc.coins = acc.coins.checked_add(amount).ok_or(ExecError::Overflow { what: "balance" })?;
    view.set_account(address, &acc);
    Ok(())
}

/// Send (Theta's `SendTxExecutor`): inputs and outputs non-empty, at most
/// `max_accounts_per_tx` of them, distinct inputs each with its next sequence and the
/// coins it spends, fee in TFUEL of at least `max(2, accounts)·min_fee/2`, and
/// `Σ inputs = Σ outputs + fee`. The fee is burned.
fn send<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    tx: &SendTx,
) -> Result<TxReceipt, ExecError> {
    if tx.inputs.is_empty() {
        return Err(ExecError::NoInputs);
    }
    if tx.outputs.is_empty() {
        return Err(ExecError::NoOutputs);
    }
    let count = tx.inputs.len().saturating_add(tx.outputs.len());
    if count > cfg.max_accounts_per_tx {
        return Err(ExecError::TooManyAccounts { count, max: cfg.max_accounts_per_tx });
    }
    check_fee(&tx.fee, cfg.send_min_fee(count))?;
    let mut seen = std::collections::BTreeSet::new();
    for i in &tx.inputs {
        if !seen.insert(i.address) {
            return Err(ExecError::DuplicateInput { address: i.address });
        }
    }
    let mut accounts = Vec::with_capacity(tx.inputs.len());
    let mut total_in = Coins::zero();
    for i in &tx.inputs {
        accounts.push(check_input(view, i, &i.coins)?);
        total_in = total_in.checked_add(&i.coins).ok_or(ExecError::Overflow { what: "inputs" })?;
    }
    let mut total_out = tx.fee;
    for o in &tx.outputs {
        total_out = total_out.checked_add(&o.coins).ok_or(ExecError::Overflow { what: "outputs" })?;
    }
    if total_in.theta_wei != total_out.theta_wei {
        return Err(ExecError::Unbalanced {
            currency: "THETA",
            inputs: total_in.theta_wei,
            outputs_plus_fee: total_out.theta_wei,
        });
    }
    if total_in.tfuel_wei != total_out.tfuel_wei {
        return Err(ExecError::Unbalanced {
            currency: "TFUEL",
            inputs: total_in.tfuel_wei,
            outputs_plus_fee: total_out.tfuel_wei,
        });
    }
    for (i, acc) in tx.inputs.iter().zip(accounts) {
        debit_signer(view, &i.address, acc, &i.coins)?;
    }
    for o in &tx.outputs {
        credit(view, &o.address, &o.coins)?;
    }
    view.burn(&tx.fee)?;
    Ok(TxReceipt { tx_type: TxType::Send.into(), fee: tx.fee, slashed: Coins::zero() })
}

fn check_purpose(purpose: u8) -> Result<(), ExecError> {
    match purpose {
        STAKE_FOR_VALIDATOR | STAKE_FOR_GUARDIAN => Ok(()),
        STAKE_FOR_ELITE_EDGE_NODE => Err(ExecError::UnsupportedPurpose { purpose }),
        other => Err(ExecError::Tx(Error::InvalidStakePurpose(other))),
    }
}

/// Checks a BLS key and its proof of possession with bls-gossip's IETF POP ciphersuite.
pub(crate) fn check_bls(holder: Address, pubkey: &[u8], pop: &[u8]) -> Result<(), ExecError> {
    let bad = |reason: String| ExecError::BadBlsKey { holder, reason };
    let pk = bls_gossip::bls::PublicKey::from_bytes(pubkey).map_err(|e| bad(e.to_string()))?;
    let pop = bls_gossip::bls::ProofOfPossession::from_bytes(pop).map_err(|e| bad(e.to_string()))?;
    pk.verify_possession(&pop).map_err(|e| bad(e.to_string()))
}

/// DepositStake / DepositStakeV2 (Theta's `DepositStakeExecutor`) for validators and
/// guardians: fee, sequence, a THETA-only stake of at least the pool's minimum, a balance
/// covering stake and fee. A holder's first deposit registers its BLS key: a V2 carrying
/// the key, a proof of possession checked under the IETF POP ciphersuite, and the
/// holder's signature over `keccak256(pop)`; the key must be new to the pool. Later
/// deposits ignore the BLS fields (Theta stores the key once). A source whose stake in
/// the holder is being withdrawn cannot deposit to it.
fn deposit<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    tx: &StakeTx,
    v2: Option<&DepositStakeV2Tx>,
) -> Result<TxReceipt, ExecError> {
    check_purpose(tx.purpose)?;
    check_fee(&tx.fee, cfg.min_fee)?;
    let stake = tx.source.coins;
    if !stake.tfuel_wei.is_zero() {
        return Err(ExecError::StakeNotTheta { tfuel_wei: stake.tfuel_wei });
    }
    let min =
        if tx.purpose == STAKE_FOR_VALIDATOR { cfg.min_validator_stake } else { cfg.min_guardian_stake };
    if stake.theta_wei < min {
        return Err(ExecError::StakeBelowMinimum { amount: stake.theta_wei, min });
    }
    let needed = stake.checked_add(&tx.fee).ok_or(ExecError::Overflow { what: "stake plus fee" })?;
    let acc = check_input(view, &tx.source, &needed)?;
    let holder = tx.holder.address;
    let source = tx.source.address;
    let record = match view.holder(tx.purpose, &holder)? {
        Some(mut rec) => {
            match rec.stakes.iter_mut().find(|s| s.source == source) {
                Some(s) if s.withdrawn => {
                    return Err(ExecError::DepositDuringWithdrawal { source_addr: source, holder });
                }
                Some(s) => {
                    s.amount =
                        s.amount.checked_add(stake.theta_wei).ok_or(ExecError::Overflow { what: "stake" })?
                }
                None => rec.stakes.push(Stake {
                    source,
                    amount: stake.theta_wei,
                    withdrawn: false,
                    return_height: u64::MAX,
                }),
            }
            rec.total_stake()?;
            rec
        }
        None => {
            let v2 =
                v2.ok_or(ExecError::MissingBlsKey { holder, missing: "BLS key (use DepositStakeV2)" })?;
            let pk = v2.bls_pubkey.ok_or(ExecError::MissingBlsKey { holder, missing: "bls_pubkey" })?;
            let pop = v2.bls_pop.ok_or(ExecError::MissingBlsKey { holder, missing: "bls_pop" })?;
            if v2.holder_sig.is_none() {
                return Err(ExecError::MissingBlsKey { holder, missing: "holder_sig" });
            }
            v2.verify_holder().map_err(|source| ExecError::BadHolderSignature { holder, source })?;
            check_bls(holder, &pk, &pop)?;
            let index = bls_index_key(tx.purpose, &pk);
            if let Some(owner) = view.get(&index)? {
                return Err(ExecError::DuplicateBlsKey { owner: Address::from_slice(&owner) });
            }
            view.put(index, holder.as_bytes().to_vec());
            StakeHolder {
                holder,
                bls_pubkey: pk,
                stakes: vec![Stake {
                    source,
                    amount: stake.theta_wei,
                    withdrawn: false,
                    return_height: u64::MAX,
                }],
            }
        }
    };
    view.set_holder(tx.purpose, &record)?;
    debit_signer(view, &source, acc, &needed)?;
    view.burn(&tx.fee)?;
    let tx_type = if v2.is_some() { TxType::DepositStakeV2 } else { TxType::DepositStake };
    Ok(TxReceipt { tx_type: tx_type.into(), fee: tx.fee, slashed: Coins::zero() })
}

/// WithdrawStake (Theta's `WithdrawStakeExecutor`): fee, sequence, a balance covering
/// the fee; the source's stake in the holder stops counting at once and is returned at
/// `height + return_locking_period` (scheduled under `ls/srk/`).
fn withdraw<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &StakeTx,
) -> Result<TxReceipt, ExecError> {
    check_purpose(tx.purpose)?;
    check_fee(&tx.fee, cfg.min_fee)?;
    let acc = check_input(view, &tx.source, &tx.fee)?;
    let holder = tx.holder.address;
    let source = tx.source.address;
    let mut rec =
        view.holder(tx.purpose, &holder)?.ok_or(ExecError::NoSuchHolder { holder, purpose: tx.purpose })?;
    let return_height = height
        .checked_add(cfg.return_locking_period.max(1))
        .ok_or(ExecError::Overflow { what: "return height" })?;
    let s = rec
        .stakes
        .iter_mut()
        .find(|s| s.source == source)
        .ok_or(ExecError::NoSuchStake { holder, source_addr: source })?;
    if s.withdrawn {
        return Err(ExecError::AlreadyWithdrawn { source_addr: source, holder });
    }
    s.withdrawn = true;
    s.return_height = return_height;
    view.set_holder(tx.purpose, &rec)?;
    view.put(stake_return_key(return_height, tx.purpose, &holder, &source), vec![1]);
    debit_signer(view, &source, acc, &tx.fee)?;
    view.burn(&tx.fee)?;
    Ok(TxReceipt { tx_type: TxType::WithdrawStake.into(), fee: tx.fee, slashed: Coins::zero() })
}

/// A stake returned to its source at the start of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedStake {
    /// The pool (validator 0, guardian 1).
    pub purpose: u8,
    /// The holder it was staked to.
    pub holder: Address,
    /// Who gets it back.
    pub source: Address,
    /// THETA wei returned.
    pub amount: U256,
}

/// Returns the withdrawn stake scheduled at `(height, purpose, holder, source)`; a
/// holder left without stakes leaves its pool and frees its BLS key.
pub(crate) fn return_stake<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    key: &[u8],
) -> Result<ReturnedStake, ExecError> {
    let p = crate::state::STAKE_RETURN_PREFIX.len();
    let bad = || ExecError::CorruptState {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: "stake return key".into(),
    };
    if key.len() != p + 8 + 1 + 20 + 20 {
        return Err(bad());
    }
    let purpose = key[p + 8];
    let holder = Address::from_slice(&key[p + 9..p + 29]);
    let source = Address::from_slice(&key[p + 29..]);
    let mut rec = view.holder(purpose, &holder)?.ok_or_else(bad)?;
    let i = rec.stakes.iter().position(|s| s.source == source && s.withdrawn).ok_or_else(bad)?;
    let stake = rec.stakes.remove(i);
    if rec.stakes.is_empty() {
        view.delete(bls_index_key(purpose, &rec.bls_pubkey));
    }
    view.set_holder(purpose, &rec)?;
    view.delete(key.to_vec());
    credit(view, &source, &Coins::new(stake.amount, U256::zero()))?;
    Ok(ReturnedStake { purpose, holder, source, amount: stake.amount })
}

/// What slash verification reads: the block's height, the committees the ledger
/// computed, reserve records and slashed-offence markers from the view.
struct SlashView<'v, 'a, S: NodeStore + ?Sized> {
    view: &'v View<'a, S>,
    height: u64,
    committees: &'v Committees,
    error: std::cell::RefCell<Option<ExecError>>,
}

impl<S: NodeStore + ?Sized> SlashView<'_, '_, S> {
    fn latch(&self, e: ExecError) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    }
}

impl<S: NodeStore + ?Sized> SlashContext for SlashView<'_, '_, S> {
    fn height(&self) -> u64 {
        self.height
    }
    fn committee_at(&self, height: u64) -> Option<&Committee> {
        self.committees.get(&height)
    }
    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<ReservedFund> {
        self.view.reserve(source, reserve_seq).unwrap_or_else(|e| {
            self.latch(e);
            None
        })
    }
    fn evidence_used(&self, key: &H256) -> bool {
        match self.view.get(&slashed_key(key)) {
            Ok(found) => found.is_some(),
            Err(e) => {
                // Unreadable state: refuse (the latched error replaces the verdict).
                self.latch(e);
                true
            }
        }
    }
}

/// Slash (Theta's `SlashTxExecutor`, with the evidence of [`crate::slashing`]): the
/// proposer is a validator of the block's height and signs with its next sequence (no
/// fee: Theta's SlashTx has none, and only validators may submit one); the evidence
/// verifies against the ledger ([`verify_slash_tx`]); then the order is applied and the
/// offence recorded under its evidence key, so it cannot slash twice.
///
/// * Double signing: the amount is taken from the offender's validator stakes, withdrawn
///   ones included (capped at what it still holds), pro rata over its sources (floors;
///   the remainder from the stakes in deposit order). The reporter's share, scaled down
///   with the cap, is credited in THETA; the rest is burned (`Supply::slashed`). A
///   validator left with no stake drops out of the next validator sets.
/// * Overspend: the reserve record after the slash is written back (its collateral is
///   the compensation pool, its deposit left for honest payees) and the penalty is paid
///   to the reporter or burned, in TFUEL, as `pool.slash_to` says.
fn slash<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &SlashTx,
    committees: &Committees,
) -> Result<TxReceipt, ExecError> {
    let proposer = tx.proposer.address;
    let is_validator = committees.get(&height).is_some_and(|c| {
        c.addresses.iter().zip(0u32..).any(|(a, i)| *a == proposer && !c.set.stake(i).is_zero())
    });
    if !is_validator {
        return Err(ExecError::NotValidator { proposer, height });
    }
    let acc = check_input(view, &tx.proposer, &Coins::zero())?;
    let order = {
        let ctx = SlashView { view, height, committees, error: std::cell::RefCell::new(None) };
        let order = verify_slash_tx(tx, MAX_SLASH_PROOF_LEN, &cfg.slash_config(), &ctx);
        if let Some(e) = ctx.error.into_inner() {
            return Err(e);
        }
        order?
    };
    // The proposer's sequence first: the order may credit the proposer (the reporter).
    debit_signer(view, &proposer, acc, &Coins::zero())?;
    let slashed = apply_order(view, &order)?;
    view.put(slashed_key(&order.evidence_key), vec![1]);
    Ok(TxReceipt { tx_type: TxType::Slash.into(), fee: Coins::zero(), slashed })
}

/// Applies a verified order; returns what it burned.
fn apply_order<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    order: &SlashOrder,
) -> Result<Coins, ExecError> {
    let overflow = |what| ExecError::Overflow { what };
    let (reward, burned) = match order.offence {
        Offence::DoubleSign { .. } => {
            let taken = take_stake(view, &order.offender, order.amount)?;
            let reward = match order.beneficiary {
                Some((_, r)) if !order.amount.is_zero() => {
                    crate::rewards::mul_div(r, taken, order.amount).ok_or(overflow("slash reward"))?
                }
                _ => U256::zero(),
            };
            let burned = taken.checked_sub(reward).ok_or(overflow("slash burn"))?;
            (Coins::new(reward, U256::zero()), Coins::new(burned, U256::zero()))
        }
        Offence::Overspend { .. } => {
            let fund = order.reserve.as_ref().ok_or(overflow("overspend order without its reserve"))?;
            view.put(reserve_key(&fund.source, fund.reserve_seq), fund.encode());
            let reward = order.beneficiary.map(|(_, r)| r).unwrap_or_default();
            (Coins::new(U256::zero(), reward), Coins::new(U256::zero(), order.burned))
        }
    };
    if let Some((reporter, _)) = order.beneficiary
        && !reward.is_zero()
    {
        credit(view, &reporter, &reward)?;
    }
    if !burned.is_zero() {
        let mut s = view.supply()?;
        s.slashed = s.slashed.checked_add(&burned).ok_or(overflow("slashed supply"))?;
        view.set_supply(&s);
    }
    Ok(burned)
}

/// Takes up to `amount` THETA from `offender`'s validator stakes (withdrawn ones too),
/// pro rata over them; returns what was taken.
fn take_stake<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    offender: &Address,
    amount: U256,
) -> Result<U256, ExecError> {
    let Some(mut rec) = view.holder(STAKE_FOR_VALIDATOR, offender)? else {
        return Ok(U256::zero());
    };
    let held = rec.locked()?;
    let taken = amount.min(held);
    if taken.is_zero() {
        return Ok(U256::zero());
    }
    let mut cut = U256::zero();
    for s in &mut rec.stakes {
        let c = crate::rewards::mul_div(s.amount, taken, held)
            .ok_or(ExecError::Overflow { what: "stake cut" })?;
        s.amount -= c;
        cut += c;
    }
    // Floors leave at most one unit per stake: take it in deposit order.
    let mut rest = taken - cut;
    for s in &mut rec.stakes {
        let c = rest.min(s.amount);
        s.amount -= c;
        rest -= c;
    }
    view.set_holder(STAKE_FOR_VALIDATOR, &rec)?;
    Ok(taken)
}

/// Credits a verified Coinbase's rewards (TFUEL) and adds them to `Supply::issued`.
pub(crate) fn mint<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    rewards: &crate::rewards::BlockRewards,
) -> Result<TxReceipt, ExecError> {
    let mut minted = U256::zero();
    for (address, amount) in &rewards.credits {
        credit(view, address, &Coins::new(U256::zero(), *amount))?;
        minted = minted.checked_add(*amount).ok_or(ExecError::Overflow { what: "minted" })?;
    }
    let mut s = view.supply()?;
    s.issued = s
        .issued
        .checked_add(&Coins::new(U256::zero(), minted))
        .ok_or(ExecError::Overflow { what: "issued supply" })?;
    view.set_supply(&s);
    Ok(TxReceipt { tx_type: TxType::Coinbase.into(), fee: Coins::zero(), slashed: Coins::zero() })
}

/// The split rule of `resource_id` in force at block `height`, if any. An expired rule
/// is not in force (and does not block another initiator, where Theta keeps it until a
/// later transaction deletes it).
pub(crate) fn split_rule_at<S: NodeStore + ?Sized>(
    view: &View<'_, S>,
    resource_id: &str,
    height: u64,
) -> Result<Option<SplitRule>, ExecError> {
    let key = split_rule_key(resource_id);
    match view.get(&key)? {
        Some(v) => Ok(Some(SplitRule::decode(&key, &v)?).filter(|r| r.in_force_at(height))),
        None => Ok(None),
    }
}

/// SplitRule (Theta's `SplitRuleTxExecutor`): the initiator signs with its next sequence
/// and pays the fee (burned); at most `max_accounts_per_tx − 1` splits, each at most 100
/// percent and all together at most 100; a rule in force set by someone else is
/// refused; otherwise the rule of the resource is created or replaced, in force until
/// `height − 1 + duration` (Theta's `EndBlockHeight`, from the parent height).
fn split_rule<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &SplitRuleTx,
) -> Result<TxReceipt, ExecError> {
    check_fee(&tx.fee, cfg.min_fee)?;
    let initiator = tx.initiator.address;
    let acc = check_input(view, &tx.initiator, &tx.fee)?;
    let count = tx.splits.len().saturating_add(1);
    if count > cfg.max_accounts_per_tx {
        return Err(ExecError::TooManyAccounts { count, max: cfg.max_accounts_per_tx });
    }
    let mut total = 0u64;
    for s in &tx.splits {
        if s.percentage > 100 {
            return Err(ExecError::BadSplit { reason: format!("a share of {}%", s.percentage) });
        }
        total += s.percentage;
    }
    if total > 100 {
        return Err(ExecError::BadSplit { reason: format!("shares summing to {total}%") });
    }
    if let Some(existing) = split_rule_at(view, &tx.resource_id, height)?
        && existing.initiator != initiator
    {
        return Err(ExecError::SplitRuleTaken {
            resource_id: tx.resource_id.clone(),
            initiator: existing.initiator,
        });
    }
    let end_height = height
        .saturating_sub(1)
        .checked_add(tx.duration)
        .ok_or(ExecError::Overflow { what: "split rule end height" })?;
    let rule =
        SplitRule { initiator, resource_id: tx.resource_id.clone(), splits: tx.splits.clone(), end_height };
    view.put(split_rule_key(&tx.resource_id), rule.encode());
    debit_signer(view, &initiator, acc, &tx.fee)?;
    view.burn(&tx.fee)?;
    Ok(TxReceipt { tx_type: TxType::SplitRule.into(), fee: tx.fee, slashed: Coins::zero() })
}

/// Theta's cap on a reward distribution (`SplitBasisPoint <= 1000`: 10 %).
pub const MAX_REWARD_SPLIT_BPS: u64 = 1_000;

/// StakeRewardDistribution (Theta's `StakeRewardDistributionTxExecutor`): the holder signs
/// with its next sequence and pays the fee (burned); `split_basis_point` at most
/// [`MAX_REWARD_SPLIT_BPS`]; 0 removes the holder's rule, anything else sets it. The
/// rule then splits the holder's guardian rewards ([`crate::Ledger::block_rewards`]).
fn reward_distribution<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    tx: &StakeRewardDistributionTx,
) -> Result<TxReceipt, ExecError> {
    check_fee(&tx.fee, cfg.min_fee)?;
    let holder = tx.holder.address;
    let acc = check_input(view, &tx.holder, &tx.fee)?;
    if tx.split_basis_point > MAX_REWARD_SPLIT_BPS {
        return Err(ExecError::BadSplit {
            reason: format!("{} basis points, at most {MAX_REWARD_SPLIT_BPS}", tx.split_basis_point),
        });
    }
    let key = reward_distribution_key(&holder);
    if tx.split_basis_point == 0 {
        view.delete(key);
    } else {
        let rule = RewardDistribution {
            beneficiary: tx.beneficiary.address,
            split_basis_point: tx.split_basis_point,
        };
        view.put(key, rule.encode());
    }
    debit_signer(view, &holder, acc, &tx.fee)?;
    view.burn(&tx.fee)?;
    Ok(TxReceipt { tx_type: TxType::StakeRewardDistribution.into(), fee: tx.fee, slashed: Coins::zero() })
}

/// The reward distribution rule of `holder`, if any.
pub(crate) fn reward_distribution_of<S: NodeStore + ?Sized>(
    view: &View<'_, S>,
    holder: &Address,
) -> Result<Option<RewardDistribution>, ExecError> {
    let key = reward_distribution_key(holder);
    view.get(&key)?.map(|v| RewardDistribution::decode(&key, &v)).transpose()
}

/// An Ethereum transfer (issue 16's `eth_sendRawTransaction`; the mapping is documented in
/// [`crate::eth`]): signed for this ledger's `eth_chain_id` (EIP-155 or EIP-1559; an
/// unprotected legacy transaction is refused), to an address with no data (contracts come
/// with the EVM work); the sender's Theta sequence is the nonce plus one; the ledger charges
/// a two-account Send's fee, which must be within `gas · max_fee_per_gas`; `value` TFUEL
/// moves to `to`, the fee is burned. It executes as a Send (its receipt's type).
pub(crate) fn eth_transfer<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    tx: &crate::eth::EthTransaction,
) -> Result<TxReceipt, ExecError> {
    if tx.chain_id != Some(cfg.eth_chain_id) {
        return Err(ExecError::EthWrongChain { expected: cfg.eth_chain_id, found: tx.chain_id });
    }
    let to = tx.to.ok_or(ExecError::EthUnsupported { reason: "contract creation" })?;
    if !tx.data.is_empty() {
        return Err(ExecError::EthUnsupported { reason: "call data" });
    }
    let fee = cfg.send_min_fee(2);
    let offered = tx.max_fee().ok_or(ExecError::Overflow { what: "Ethereum max fee" })?;
    if offered < fee {
        return Err(ExecError::EthFeeTooLow { offered, needed: fee });
    }
    let sequence = tx.theta_sequence().ok_or(ExecError::Overflow { what: "sequence" })?;
    let spent = Coins::new(
        U256::zero(),
        tx.value.checked_add(fee).ok_or(ExecError::Overflow { what: "value plus fee" })?,
    );
    let acc = check_input(view, &TxInput::new(tx.from, spent, sequence), &spent)?;
    debit_signer(view, &tx.from, acc, &spent)?;
    credit(view, &to, &Coins::new(U256::zero(), tx.value))?;
    let fee = Coins::new(U256::zero(), fee);
    view.burn(&fee)?;
    Ok(TxReceipt { tx_type: TxType::Send.into(), fee, slashed: Coins::zero() })
}
