//! ReserveFund, ServicePayment and ReleaseFund, executed through `micropool`'s rules.
//!
//! The Theta transaction's secp256k1 signatures (checked by the executor over Theta's
//! sign bytes) authorize the fields; the fields are then handed to micropool as
//! [`micropool::Verified::checked_by_host`] values, and micropool's rules run over a
//! two-coin adapter of the ledger state:
//!
//! * the pool's single currency is **TFUEL** (`Account::coins.tfuel_wei`); THETA in a
//!   deposit, collateral or cheque amount is refused ([`ExecError::PoolNotTfuel`]);
//! * reserve records live under `ls/rf/<source><reserve seq>` and each source's last
//!   reserve sequence under `ls/rs/<source>`;
//! * a store read that fails, or a record that does not decode, is latched by the
//!   adapter (micropool's `PoolStore` is infallible) and turns the whole transaction into
//!   that error: nothing it wrote is kept.
//!
//! Mapping (Theta's `tx_reserve_fund.go`, `tx_service_payment.go`, `tx_release_fund.go`):
//! a ReserveFund's deposit is `source.coins`, its reserve sequence the source's
//! transaction sequence (as Theta: `reserveSequence := tx.Source.Sequence`), resource ids
//! are hashed with `micropool::resource_id`; a ServicePayment's `source.coins` is the
//! cheque's cumulative amount, its target pays the fee and uses its sequence (the
//! source's sequence is not used: the source signs off chain); a ReleaseFund is
//! submitted by the reserve's source. Fees are burned, as are slashes burned under
//! `SlashDestination::Burn`.

use std::cell::RefCell;

use micropool::{PoolStore, ReservedFund, Verified};
use mpt_refcount::NodeStore;
use primitives::{Address, U256};

use crate::config::LedgerConfig;
use crate::error::ExecError;
use crate::exec::{TxReceipt, check_fee, check_input};
use crate::state::{View, reserve_key, reserve_seq_key};
use crate::tx::{Coins, ReleaseFundTx, ReserveFundTx, ServicePaymentTx, Transaction, TxType};

/// The ledger state as micropool's single-currency `PoolStore`.
struct Adapter<'v, 'a, S: NodeStore + ?Sized> {
    view: &'v mut View<'a, S>,
    error: RefCell<Option<ExecError>>,
}

impl<S: NodeStore + ?Sized> Adapter<'_, '_, S> {
    fn latch(&self, e: ExecError) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    }
}

impl<S: NodeStore + ?Sized> PoolStore for Adapter<'_, '_, S> {
    fn balance(&self, who: &Address) -> U256 {
        match self.view.account(who) {
            Ok(a) => a.coins.tfuel_wei,
            Err(e) => {
                self.latch(e);
                U256::zero()
            }
        }
    }

    fn set_balance(&mut self, who: &Address, amount: U256) {
        match self.view.account(who) {
            Ok(mut a) => {
                a.coins.tfuel_wei = amount;
                self.view.set_account(who, &a);
            }
            Err(e) => self.latch(e),
        }
    }

    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<ReservedFund> {
        self.view.reserve(source, reserve_seq).unwrap_or_else(|e| {
            self.latch(e);
            None
        })
    }

    fn put_reserve(&mut self, fund: ReservedFund) {
        self.view.put(reserve_key(&fund.source, fund.reserve_seq), fund.encode());
    }

    fn remove_reserve(&mut self, source: &Address, reserve_seq: u64) {
        self.view.delete(reserve_key(source, reserve_seq));
    }

    fn last_reserve_seq(&self, source: &Address) -> u64 {
        let key = reserve_seq_key(source);
        match self.view.get(&key) {
            Ok(Some(v)) => match <[u8; 8]>::try_from(v.as_slice()) {
                Ok(b) => u64::from_be_bytes(b),
                Err(_) => {
                    self.latch(ExecError::CorruptState {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        reason: "reserve sequence is not 8 bytes".into(),
                    });
                    u64::MAX
                }
            },
            Ok(None) => 0,
            Err(e) => {
                self.latch(e);
                u64::MAX
            }
        }
    }

    fn set_last_reserve_seq(&mut self, source: &Address, reserve_seq: u64) {
        self.view.put(reserve_seq_key(source), reserve_seq.to_be_bytes().to_vec());
    }
}

fn tfuel_only(c: &Coins, field: &'static str) -> Result<U256, ExecError> {
    if !c.theta_wei.is_zero() {
        return Err(ExecError::PoolNotTfuel { field });
    }
    Ok(c.tfuel_wei)
}

/// Runs a micropool rule over the adapter; a latched store error wins over the rule's
/// answer.
fn run<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    rule: impl FnOnce(&mut Adapter<'_, '_, S>) -> Result<micropool::Receipt, micropool::Error>,
) -> Result<micropool::Receipt, ExecError> {
    let mut adapter = Adapter { view, error: RefCell::new(None) };
    let result = rule(&mut adapter);
    if let Some(e) = adapter.error.into_inner() {
        return Err(e);
    }
    Ok(result?)
}

/// Bumps the sequence of a signer whose transaction micropool executed.
fn bump<S: NodeStore + ?Sized>(view: &mut View<'_, S>, who: &Address) -> Result<(), ExecError> {
    let mut acc = view.account(who)?;
    acc.sequence = acc.sequence.checked_add(1).ok_or(ExecError::Overflow { what: "sequence" })?;
    view.set_account(who, &acc);
    Ok(())
}

fn finish<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    tx_type: TxType,
    receipt: &micropool::Receipt,
) -> Result<TxReceipt, ExecError> {
    let fee = Coins::new(U256::zero(), receipt.fee);
    let slashed = Coins::new(U256::zero(), receipt.burned);
    view.burn(&fee)?;
    if !slashed.is_zero() {
        let mut s = view.supply()?;
        s.slashed = s.slashed.checked_add(&slashed).ok_or(ExecError::Overflow { what: "slashed supply" })?;
        view.set_supply(&s);
    }
    Ok(TxReceipt { tx_type: tx_type.into(), fee, slashed })
}

pub(crate) fn apply<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &Transaction,
) -> Result<TxReceipt, ExecError> {
    match tx {
        Transaction::ReserveFund(t) => reserve(view, cfg, height, t),
        Transaction::ServicePayment(t) => payment(view, cfg, height, t),
        Transaction::ReleaseFund(t) => release(view, cfg, height, t),
        other => Err(ExecError::NotEnabled { tx_type: other.tx_type() }),
    }
}

fn reserve<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &ReserveFundTx,
) -> Result<TxReceipt, ExecError> {
    check_fee(&tx.fee, cfg.min_fee)?;
    let deposit = tfuel_only(&tx.source.coins, "reserve_fund.source.coins")?;
    let collateral = tfuel_only(&tx.collateral, "reserve_fund.collateral")?;
    let needed = tx
        .source
        .coins
        .checked_add(&tx.collateral)
        .and_then(|c| c.checked_add(&tx.fee))
        .ok_or(ExecError::Overflow { what: "reserve total" })?;
    check_input(view, &tx.source, &needed)?;
    let fields = micropool::ReserveFund {
        source: tx.source.address,
        reserve_seq: tx.source.sequence,
        resource_ids: tx.resource_ids.iter().map(|r| micropool::resource_id(r)).collect(),
        deposit,
        collateral,
        duration: tx.duration,
        fee: tx.fee.tfuel_wei,
        signature: micropool::placeholder_signature(),
    };
    let verified = Verified::checked_by_host(fields, cfg.pool.chain_id);
    let receipt = run(view, |s| micropool::reserve_fund_verified(s, &cfg.pool, height, &verified))?;
    bump(view, &tx.source.address)?;
    finish(view, TxType::ReserveFund, &receipt)
}

fn payment<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &ServicePaymentTx,
) -> Result<TxReceipt, ExecError> {
    check_fee(&tx.fee, cfg.min_fee)?;
    let amount = tfuel_only(&tx.source.coins, "service_payment.source.coins")?;
    // The target pays the fee; it carries its next sequence.
    check_input(view, &tx.target, &tx.fee)?;
    let fields = micropool::ServicePayment {
        cheque: micropool::SignedCheque {
            cheque: micropool::Cheque {
                source: tx.source.address,
                reserve_seq: tx.reserve_sequence,
                target: tx.target.address,
                resource_id: micropool::resource_id(&tx.resource_id),
                amount,
                payment_seq: tx.payment_sequence,
            },
            signature: micropool::placeholder_signature(),
        },
        fee: tx.fee.tfuel_wei,
        target_signature: micropool::placeholder_signature(),
    };
    let verified = Verified::checked_by_host(fields, cfg.pool.chain_id);
    let receipt = run(view, |s| micropool::settle_verified(s, &cfg.pool, height, &verified))?;
    bump(view, &tx.target.address)?;
    split_payment(view, height, &tx.resource_id, &tx.target.address, receipt.paid)?;
    finish(view, TxType::ServicePayment, &receipt)
}

fn release<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    cfg: &LedgerConfig,
    height: u64,
    tx: &ReleaseFundTx,
) -> Result<TxReceipt, ExecError> {
    check_fee(&tx.fee, cfg.min_fee)?;
    check_input(view, &tx.source, &tx.fee)?;
    let fields = micropool::ReleaseFund {
        submitter: tx.source.address,
        source: tx.source.address,
        reserve_seq: tx.reserve_sequence,
        fee: tx.fee.tfuel_wei,
        signature: micropool::placeholder_signature(),
    };
    let verified = Verified::checked_by_host(fields, cfg.pool.chain_id);
    let receipt = run(view, |s| micropool::release_fund_verified(s, &cfg.pool, height, &verified))?;
    bump(view, &tx.source.address)?;
    finish(view, TxType::ReleaseFund, &receipt)
}

/// Theta's `splitPayment`: with a split rule in force for the resource, each split's
/// `floor(paid · percentage / 100)` of what the payee was just paid goes to the split's
/// address (the payee may be one of them); an expired rule is deleted, as Theta does.
fn split_payment<S: NodeStore + ?Sized>(
    view: &mut View<'_, S>,
    height: u64,
    resource_id: &str,
    target: &Address,
    paid: U256,
) -> Result<(), ExecError> {
    let key = crate::state::split_rule_key(resource_id);
    let Some(rule) = crate::exec::split_rule_at(view, resource_id, height)? else {
        if view.get(&key)?.is_some() {
            view.delete(key);
        }
        return Ok(());
    };
    let mut moved = U256::zero();
    for s in &rule.splits {
        let share =
            paid.checked_mul(U256::from(s.percentage)).ok_or(ExecError::Overflow { what: "split share" })?
                / U256::from(100u64);
        if share.is_zero() || s.address == *target {
            continue;
        }
        crate::exec::credit(view, &s.address, &Coins::new(U256::zero(), share))?;
        moved = moved.checked_add(share).ok_or(ExecError::Overflow { what: "split total" })?;
    }
    if !moved.is_zero() {
        let mut acc = view.account(target)?;
        acc.coins.tfuel_wei =
            acc.coins.tfuel_wei.checked_sub(moved).ok_or(ExecError::Overflow { what: "split debit" })?;
        view.set_account(target, &acc);
    }
    Ok(())
}
