//! The pool rules as pure functions over a [`PoolStore`] (whitepaper v2.0, "Resource
//! Oriented Micropayment Pool").
//!
//! Each rule checks its transaction's signatures and every condition first, then writes;
//! an `Err` leaves the store untouched. Each returns a [`Receipt`] saying what left the
//! accounts: the fee (the ledger credits it to the block producer or burns it) and what
//! was burned by a slash. Conservation: for every rule,
//! `supply_before = supply_after + receipt.fee + receipt.burned`, where supply counts
//! balances plus funds locked in reserves.

use std::collections::BTreeMap;

use primitives::{Address, U256};

use crate::config::{PoolConfig, SlashDestination};
use crate::error::Error;
use crate::record::{ReservedFund, TransferRecord};
use crate::store::PoolStore;
use crate::tx::{ReleaseFund, ReportOverspend, ReserveFund, ServicePayment, Transaction};

/// What one rule moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Fee taken from the signer; leaves the accounts (the ledger routes it).
    pub fee: U256,
    /// Paid to the payee (settlement) or returned to the source (release).
    pub paid: U256,
    /// The part of `paid` that came from a slashed reserve's compensation pool (the
    /// collateral), making up for deposit an overspend took.
    pub compensated: U256,
    /// What a settled cheque promised beyond what the reserve could pay: unpaid.
    pub shortfall: U256,
    /// Total slashed by this transaction (burned or paid to the reporter).
    pub slashed: U256,
    /// The part of `slashed` that was burned.
    pub burned: U256,
    /// Whether this transaction proved the overspend.
    pub overspend_proven: bool,
}

/// Balance changes gathered by a rule, applied only if every account can afford them.
#[derive(Default)]
struct Changes(BTreeMap<Address, (U256, U256)>);

impl Changes {
    fn credit(&mut self, who: Address, amount: U256) -> Result<(), Error> {
        let e = self.0.entry(who).or_default();
        e.0 = e.0.checked_add(amount).ok_or(Error::Overflow { what: "credit" })?;
        Ok(())
    }
    fn debit(&mut self, who: Address, amount: U256) -> Result<(), Error> {
        let e = self.0.entry(who).or_default();
        e.1 = e.1.checked_add(amount).ok_or(Error::Overflow { what: "debit" })?;
        Ok(())
    }
    /// Computes every new balance; fails without writing if any account falls short.
    fn check<S: PoolStore + ?Sized>(&self, store: &S) -> Result<Vec<(Address, U256)>, Error> {
        self.0
            .iter()
            .map(|(who, (credit, debit))| {
                let available =
                    store.balance(who).checked_add(*credit).ok_or(Error::Overflow { what: "balance" })?;
                let after = available.checked_sub(*debit).ok_or(Error::InsufficientBalance {
                    who: *who,
                    needed: *debit,
                    available,
                })?;
                Ok((*who, after))
            })
            .collect()
    }
}

fn write<S: PoolStore + ?Sized>(store: &mut S, balances: Vec<(Address, U256)>) {
    for (who, amount) in balances {
        store.set_balance(&who, amount);
    }
}

fn check_fee(cfg: &PoolConfig, fee: U256) -> Result<(), Error> {
    if fee < cfg.min_fee { Err(Error::FeeTooLow { fee, min: cfg.min_fee }) } else { Ok(()) }
}

fn load<S: PoolStore + ?Sized>(store: &S, source: &Address, reserve_seq: u64) -> Result<ReservedFund, Error> {
    store.reserve(source, reserve_seq).ok_or(Error::ReserveNotFound { source_addr: *source, reserve_seq })
}

/// Takes `amount` from a reserve as a penalty: burned, or credited to `reporter`.
fn penalize(
    cfg: &PoolConfig,
    changes: &mut Changes,
    receipt: &mut Receipt,
    amount: U256,
    reporter: Address,
) -> Result<(), Error> {
    receipt.slashed = receipt.slashed.checked_add(amount).ok_or(Error::Overflow { what: "slash" })?;
    match cfg.slash_to {
        SlashDestination::Burn => {
            receipt.burned = receipt.burned.checked_add(amount).ok_or(Error::Overflow { what: "burn" })?
        }
        SlashDestination::Reporter => changes.credit(reporter, amount)?,
    }
    Ok(())
}

/// The compensation pool a slash leaves in the record: half the collateral's excess over
/// the deposit. The rest of the collateral (more than the deposit) is the penalty.
///
/// Why not all of it: shorted payees are identified only by source-signed cheques, which
/// the source can also sign to addresses of its own. Whatever the pool pays, a colluding
/// source may claim. A coalition gets back at most the deposit (taken first) plus the
/// pool, and gains at most the unpaid service of honest payees (bounded by their credit
/// limits, together at most the deposit), so its net return is at most
/// `deposit + pool − collateral = −(collateral − deposit)/2 < 0`.
fn compensation_pool(fund: &ReservedFund) -> U256 {
    fund.collateral.saturating_sub(fund.deposit) / 2
}

/// Marks `fund` slashed: the penalty (the collateral less the compensation pool) is
/// burned or paid to `reporter` at once; the pool stays in the record for shorted payees
/// and is slashed at release with the deposit left.
fn slash(
    cfg: &PoolConfig,
    changes: &mut Changes,
    receipt: &mut Receipt,
    fund: &mut ReservedFund,
    reporter: Address,
) -> Result<(), Error> {
    let pool = compensation_pool(fund);
    let penalty = fund.collateral.saturating_sub(pool);
    penalize(cfg, changes, receipt, penalty, reporter)?;
    fund.collateral = pool;
    fund.slashed = true;
    fund.reporter = reporter;
    receipt.overspend_proven = true;
    Ok(())
}

/// `ReserveFund`: locks `deposit + collateral` of the source until `height + duration`.
///
/// Rules: fee at least the minimum; deposit positive; collateral strictly above the
/// deposit; duration within `[min_duration, max_duration]`; one to `max_resource_ids`
/// distinct resource ids; `reserve_seq` above every earlier one of the source; the
/// source can pay deposit, collateral and fee.
pub fn reserve_fund<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &ReserveFund,
) -> Result<Receipt, Error> {
    tx.verify(cfg.chain_id)?;
    apply_reserve(store, cfg, height, tx)
}

/// [`reserve_fund`] for a reservation whose authorization was checked already
/// ([`Verified::checked_by_host`]); re-checks the chain id it was checked for.
pub fn reserve_fund_verified<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &Verified<ReserveFund>,
) -> Result<Receipt, Error> {
    check_chain(cfg, tx)?;
    apply_reserve(store, cfg, height, tx.get())
}

fn check_chain<T>(cfg: &PoolConfig, tx: &Verified<T>) -> Result<(), Error> {
    if tx.chain_id() != cfg.chain_id {
        return Err(Error::ChainMismatch { verified_for: tx.chain_id(), chain_id: cfg.chain_id });
    }
    Ok(())
}

fn apply_reserve<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &ReserveFund,
) -> Result<Receipt, Error> {
    check_fee(cfg, tx.fee)?;
    if tx.deposit.is_zero() {
        return Err(Error::ZeroDeposit);
    }
    if tx.collateral <= tx.deposit {
        return Err(Error::CollateralNotAboveDeposit { deposit: tx.deposit, collateral: tx.collateral });
    }
    if tx.duration < cfg.min_duration || tx.duration > cfg.max_duration {
        return Err(Error::DurationOutOfRange {
            duration: tx.duration,
            min: cfg.min_duration,
            max: cfg.max_duration,
        });
    }
    if tx.resource_ids.is_empty() {
        return Err(Error::NoResourceIds);
    }
    if tx.resource_ids.len() > cfg.max_resource_ids {
        return Err(Error::TooMany {
            what: "resource ids",
            count: tx.resource_ids.len(),
            max: cfg.max_resource_ids,
        });
    }
    let mut sorted = tx.resource_ids.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::DuplicateResourceId { resource_id: w[0] });
    }
    let last = store.last_reserve_seq(&tx.source);
    if tx.reserve_seq <= last {
        return Err(Error::ReserveSeqNotIncreasing { source_addr: tx.source, last, got: tx.reserve_seq });
    }
    let end_height = height.checked_add(tx.duration).ok_or(Error::Overflow { what: "end height" })?;
    let locked = tx.deposit.checked_add(tx.collateral).ok_or(Error::Overflow { what: "reserve total" })?;
    let mut changes = Changes::default();
    changes.debit(tx.source, locked)?;
    changes.debit(tx.source, tx.fee)?;
    let balances = changes.check(store)?;

    write(store, balances);
    store.set_last_reserve_seq(&tx.source, tx.reserve_seq);
    store.put_reserve(ReservedFund {
        source: tx.source,
        reserve_seq: tx.reserve_seq,
        resource_ids: tx.resource_ids.clone(),
        deposit: tx.deposit,
        collateral: tx.collateral,
        used: U256::zero(),
        end_height,
        slashed: false,
        reporter: Address::zero(),
        transfers: Vec::new(),
        slot_unit: cfg.slot_unit(tx.deposit),
    });
    Ok(Receipt { fee: tx.fee, ..Receipt::default() })
}

/// A transaction whose signatures were checked for one chain: the only way to build one
/// is [`Verified::payment`], so [`settle_verified`] cannot see an unchecked payment, and
/// it re-checks that the chain id verified for is the chain's ([`Error::ChainMismatch`]).
///
/// The ledger can check the signatures of a whole block in parallel
/// ([`verify_payments`], feature `parallel`) and then apply the rules in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T> {
    value: T,
    chain_id: u64,
}

impl Verified<ServicePayment> {
    /// Checks both signatures of a settlement (source's cheque, target's countersignature)
    /// for `chain_id`.
    pub fn payment(tx: ServicePayment, chain_id: u64) -> Result<Self, Error> {
        tx.verify(chain_id)?;
        Ok(Verified { value: tx, chain_id })
    }
}

impl<T> Verified<T> {
    /// Wraps a transaction whose authorization the host checked itself, in its own
    /// format, for `chain_id`: the ledger executes Theta-format transactions, whose
    /// secp256k1 signatures over Theta's sign bytes authorize the same fields as this
    /// crate's digests do, and then runs these rules on the fields. The signature fields
    /// of `value` are not looked at. Only a host that did check may call this; the rules
    /// still re-check the chain id.
    pub fn checked_by_host(value: T, chain_id: u64) -> Self {
        Verified { value, chain_id }
    }

    /// The checked transaction.
    pub fn get(&self) -> &T {
        &self.value
    }
    /// The chain id the signatures were checked for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
    /// Gives the transaction back.
    pub fn into_inner(self) -> T {
        self.value
    }
}

/// Checks the signatures of many settlements, one result per input, in order; spread
/// over rayon's pool with the `parallel` feature.
pub fn verify_payments(
    txs: Vec<ServicePayment>,
    chain_id: u64,
) -> Vec<Result<Verified<ServicePayment>, Error>> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        txs.into_par_iter().map(|t| Verified::payment(t, chain_id)).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        txs.into_iter().map(|t| Verified::payment(t, chain_id)).collect()
    }
}

/// `ServicePayment`: settles the newest cheque a payee holds. Checks both signatures,
/// then applies [`settle_verified`].
pub fn settle<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &ServicePayment,
) -> Result<Receipt, Error> {
    tx.verify(cfg.chain_id)?;
    apply_settlement(store, cfg, height, tx)
}

/// Settles a payment whose signatures were already checked for `cfg.chain_id`.
///
/// Rules: the payment was verified for this chain ([`Error::ChainMismatch`]); the
/// cheque's target is not its source; the reserve exists and `height <= end_height`;
/// the resource is covered; `payment_seq` strictly above the payee's settled one; the
/// cumulative amount above what was already promised (a settlement must pay something);
/// a payee's first settlement promises at least the reserve's `slot_unit`. The payee
/// receives the increase over its previous settlement, up to the deposit left.
///
/// **Slots.** Every slot holds at least `slot_unit = ceil(deposit / max_payees)`
/// promised (`max_payees` as it was when the reserve was made; the unit is in the
/// record), and a record holds [`ReservedFund::slot_limit`] payees: at least
/// `floor(deposit / slot_unit)` whatever the current `max_payees`, so a full record
/// promises more than `deposit − slot_unit`. Hence if the source's
/// cheques add up to at most the deposit, every payee holding one (of at least a slot
/// unit) finds a slot and is paid in full; a full record met by a new valid cheque is
/// itself proof of overspend and slashes the reserve (the newcomer gets no slot and is
/// not paid: without a slot nothing would stop it settling twice).
///
/// **\[beyond\]** If the increase exceeds the deposit left, the source has signed
/// cheques summing to more than the deposit (the settled ones plus this one): the
/// reserve is slashed at once (the penalty burned, or paid to this payee as reporter),
/// and the payee receives all that is left of the deposit and then of the compensation
/// pool (see `docs/micropool.md`). Once nothing is left, further increases fail with
/// [`Error::DepositExhausted`].
pub fn settle_verified<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &Verified<ServicePayment>,
) -> Result<Receipt, Error> {
    check_chain(cfg, tx)?;
    apply_settlement(store, cfg, height, tx.get())
}

fn apply_settlement<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &ServicePayment,
) -> Result<Receipt, Error> {
    check_fee(cfg, tx.fee)?;
    let c = &tx.cheque.cheque;
    if c.target == c.source {
        return Err(Error::SelfPayment { source_addr: c.source });
    }
    let mut fund = load(store, &c.source, c.reserve_seq)?;
    if height > fund.end_height {
        return Err(Error::ReserveExpired { end_height: fund.end_height, height });
    }
    if !fund.resource_ids.contains(&c.resource_id) {
        return Err(Error::UnknownResource { resource_id: c.resource_id });
    }
    let slot = fund.transfers.binary_search_by(|t| t.target.cmp(&c.target));
    let previous = match slot {
        Ok(i) => {
            let t = &fund.transfers[i];
            if c.payment_seq <= t.payment_seq {
                return Err(Error::StalePaymentSeq {
                    target: c.target,
                    last: t.payment_seq,
                    got: c.payment_seq,
                });
            }
            t.promised
        }
        Err(_) => U256::zero(),
    };
    let increase = c.amount.checked_sub(previous).ok_or(Error::CumulativeAmountDecreased {
        target: c.target,
        previous,
        amount: c.amount,
    })?;
    if increase.is_zero() {
        return Err(Error::NothingToSettle { target: c.target, amount: c.amount });
    }
    let mut receipt = Receipt { fee: tx.fee, ..Receipt::default() };
    let mut changes = Changes::default();
    changes.debit(c.target, tx.fee)?;
    if slot.is_err() {
        if c.amount < fund.slot_unit {
            return Err(Error::BelowSlotUnit { amount: c.amount, slot_unit: fund.slot_unit });
        }
        let slots = fund.slot_limit(cfg.max_payees);
        if fund.transfers.len() >= slots {
            // Full: the settled cheques plus this one, all source-signed, exceed the
            // deposit, since the record has at least `deposit / slot_unit` slots and
            // every slot holds at least a slot unit (whatever `max_payees` is now).
            // Checked, not assumed.
            let total = fund
                .promised_total()
                .checked_add(c.amount)
                .ok_or(Error::Overflow { what: "promised total" })?;
            if fund.slashed || total <= fund.deposit {
                return Err(Error::TooManyPayees { max: slots });
            }
            receipt.shortfall = increase;
            slash(cfg, &mut changes, &mut receipt, &mut fund, c.target)?;
            let balances = changes.check(store)?;
            write(store, balances);
            store.put_reserve(fund);
            return Ok(receipt);
        }
    }
    let from_deposit = increase.min(fund.remaining());
    let mut shortfall = increase - from_deposit;
    let was_slashed = fund.slashed;
    if !shortfall.is_zero() && !fund.slashed {
        slash(cfg, &mut changes, &mut receipt, &mut fund, c.target)?;
    }
    let from_pool = if fund.slashed { shortfall.min(fund.collateral) } else { U256::zero() };
    shortfall = shortfall.saturating_sub(from_pool);
    let pay = from_deposit.checked_add(from_pool).ok_or(Error::Overflow { what: "payment" })?;
    if was_slashed && pay.is_zero() {
        return Err(Error::DepositExhausted { shortfall });
    }
    receipt.paid = pay;
    receipt.compensated = from_pool;
    receipt.shortfall = shortfall;
    changes.credit(c.target, pay)?;
    let balances = changes.check(store)?;

    fund.used = fund.used.checked_add(from_deposit).ok_or(Error::Overflow { what: "used deposit" })?;
    fund.collateral = fund.collateral.saturating_sub(from_pool);
    match slot {
        Ok(i) => {
            let t = &mut fund.transfers[i];
            t.payment_seq = c.payment_seq;
            t.promised = c.amount;
            t.paid = t.paid.checked_add(pay).ok_or(Error::Overflow { what: "paid" })?;
        }
        Err(i) => fund.transfers.insert(
            i,
            TransferRecord { target: c.target, payment_seq: c.payment_seq, promised: c.amount, paid: pay },
        ),
    }
    write(store, balances);
    store.put_reserve(fund);
    Ok(receipt)
}

/// `ReleaseFund`: after `end_height + freeze_period`, returns the deposit left and the
/// collateral to the source and deletes the record. **\[beyond\]** For a slashed reserve,
/// the deposit and compensation pool left are slashed too (burned, or paid to the
/// reporter): the source never recovers collateral after overspending. Anyone may
/// submit it; the submitter pays the fee.
pub fn release_fund<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &ReleaseFund,
) -> Result<Receipt, Error> {
    tx.verify(cfg.chain_id)?;
    apply_release(store, cfg, height, tx)
}

/// [`release_fund`] for a release whose authorization was checked already
/// ([`Verified::checked_by_host`]); re-checks the chain id it was checked for.
pub fn release_fund_verified<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &Verified<ReleaseFund>,
) -> Result<Receipt, Error> {
    check_chain(cfg, tx)?;
    apply_release(store, cfg, height, tx.get())
}

fn apply_release<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &ReleaseFund,
) -> Result<Receipt, Error> {
    check_fee(cfg, tx.fee)?;
    let fund = load(store, &tx.source, tx.reserve_seq)?;
    let releasable_at = fund.end_height.saturating_add(cfg.freeze_period);
    if height < releasable_at {
        return Err(Error::ReleaseTooEarly { releasable_at, height });
    }
    let mut receipt = Receipt { fee: tx.fee, ..Receipt::default() };
    let mut changes = Changes::default();
    changes.debit(tx.submitter, tx.fee)?;
    if fund.slashed {
        penalize(cfg, &mut changes, &mut receipt, fund.locked(), fund.reporter)?;
    } else {
        receipt.paid = fund.locked();
        changes.credit(fund.source, fund.locked())?;
    }
    let balances = changes.check(store)?;
    write(store, balances);
    store.remove_reserve(&tx.source, tx.reserve_seq);
    Ok(receipt)
}

/// **\[beyond\]** `ReportOverspend`: slashes the collateral of a reserve whose source
/// signed cheques promising, in total, more than the deposit.
///
/// The total is, per payee, the largest cumulative amount among the evidence and the
/// settled record, summed over payees. The reporter must not be the source
/// ([`Error::ReporterIsSource`]). The penalty is burned or paid to the reporter; the
/// deposit left and the compensation pool stay payable to payees until the end height
/// (honest cheques keep their value) and are slashed at release.
pub fn report_overspend<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    _height: u64,
    tx: &ReportOverspend,
) -> Result<Receipt, Error> {
    tx.verify(cfg.chain_id)?;
    check_fee(cfg, tx.fee)?;
    let first = tx.evidence.first().ok_or(Error::EmptyEvidence)?;
    if tx.reporter == first.cheque.source {
        return Err(Error::ReporterIsSource { source_addr: tx.reporter });
    }
    if tx.evidence.len() > cfg.max_evidence {
        return Err(Error::TooMany {
            what: "evidence cheques",
            count: tx.evidence.len(),
            max: cfg.max_evidence,
        });
    }
    let (source, reserve_seq) = (first.cheque.source, first.cheque.reserve_seq);
    for sc in &tx.evidence {
        if (sc.cheque.source, sc.cheque.reserve_seq) != (source, reserve_seq) {
            return Err(Error::EvidenceMixesReserves {
                expected_source: source,
                expected_seq: reserve_seq,
                found_source: sc.cheque.source,
                found_seq: sc.cheque.reserve_seq,
            });
        }
        sc.verify(cfg.chain_id)?;
    }
    let mut fund = load(store, &source, reserve_seq)?;
    if fund.slashed {
        return Err(Error::AlreadySlashed { source_addr: source, reserve_seq });
    }
    let mut promised: BTreeMap<Address, U256> =
        fund.transfers.iter().map(|t| (t.target, t.promised)).collect();
    for sc in &tx.evidence {
        let e = promised.entry(sc.cheque.target).or_default();
        *e = (*e).max(sc.cheque.amount);
    }
    let total = promised
        .values()
        .try_fold(U256::zero(), |a, b| a.checked_add(*b))
        .ok_or(Error::Overflow { what: "evidence total" })?;
    if total <= fund.deposit {
        return Err(Error::NoOverspend { total, deposit: fund.deposit });
    }
    let mut receipt = Receipt { fee: tx.fee, ..Receipt::default() };
    let mut changes = Changes::default();
    changes.debit(tx.reporter, tx.fee)?;
    slash(cfg, &mut changes, &mut receipt, &mut fund, tx.reporter)?;
    let balances = changes.check(store)?;
    write(store, balances);
    store.put_reserve(fund);
    Ok(receipt)
}

/// Applies any pool transaction at block `height`.
pub fn execute<S: PoolStore + ?Sized>(
    store: &mut S,
    cfg: &PoolConfig,
    height: u64,
    tx: &Transaction,
) -> Result<Receipt, Error> {
    match tx {
        Transaction::Reserve(t) => reserve_fund(store, cfg, height, t),
        Transaction::Pay(t) => settle(store, cfg, height, t),
        Transaction::Release(t) => release_fund(store, cfg, height, t),
        Transaction::Report(t) => report_overspend(store, cfg, height, t),
    }
}
